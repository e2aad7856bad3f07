"""Nearest-neighbour retrieval at catalogue size: recall@10 against exact and latency per
query, for the HNSW index (float32, fp16, int8 storage) beside an exact scan.

Factors are clustered random vectors (items and users drawn around shared centres, as
trained factors cluster by taste); every query excludes a user's seen items, as serving
does. One JSON line per storage, or a table with --table.

    python benchmarks/scale_ann.py --items 100000 --dim 64 --queries 1000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np
import psutil
import scipy.sparse as sp
import torch

from storex.retrieval.ann import STORAGES, ItemIndex
from storex.retrieval.exact import exact_top_k

K = 10


def clustered_factors(items: int, users: int, dim: int, seed: int) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(max(items // 500, 8), dim, generator=generator)
    pick = torch.randint(len(centres), (items + users,), generator=generator)
    vectors = centres[pick] + 0.5 * torch.randn(items + users, dim, generator=generator)
    return vectors[users:], vectors[:users]


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
    }


def steps(args: argparse.Namespace) -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    import faiss

    faiss.omp_set_num_threads(1)  # one query at a time, as a service worker answers
    items, users = clustered_factors(args.items, args.queries, args.dim, args.seed)
    seen = sp.random(
        args.queries,
        args.items,
        density=args.seen / args.items,
        format="csr",
        random_state=args.seed,
    )
    exact, exact_seconds = [], []
    for row in range(args.queries):
        started = time.perf_counter()
        found, _ = exact_top_k(users[row : row + 1], items, K, exclude=seen[row : row + 1])
        exact_seconds.append(time.perf_counter() - started)
        exact.append(set(found[0].tolist()))
    lines = []
    for storage in args.storage:
        started = time.perf_counter()
        index = ItemIndex(items, storage=storage)
        build = time.perf_counter() - started
        seconds, hits = [], 0
        for row in range(args.queries):
            started = time.perf_counter()
            found, _ = index.top_k(users[row : row + 1], K, exclude=seen[row : row + 1])
            seconds.append(time.perf_counter() - started)
            hits += len(exact[row] & set(found[0].tolist()))
        lines.append(
            {
                "step": "ann",
                "storage": storage,
                "items": args.items,
                "users": args.queries,
                "dim": args.dim,
                "recall_at_10": round(hits / (K * args.queries), 4),
                **percentiles(seconds),
                **{f"exact_{k}": v for k, v in percentiles(exact_seconds).items()},
                "build_seconds": round(build, 2),
                "peak_mb": round(psutil.Process().memory_info().rss / 2**20),
                "load": round(os.getloadavg()[0], 2),
            }
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seen", type=int, default=50, help="Seen items per user.")
    parser.add_argument("--storage", nargs="+", choices=STORAGES, default=list(STORAGES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", action="store_true", help="A table on stderr as well.")
    args = parser.parse_args()
    lines = steps(args)
    if args.table:
        for line in lines:
            print(
                f"{line['storage']:>5}  recall@10 {line['recall_at_10']:.4f}  "
                f"p50 {line['p50_ms']} ms  p95 {line['p95_ms']} ms  "
                f"(exact p50 {line['exact_p50_ms']} ms)  build {line['build_seconds']} s",
                file=sys.stderr,
            )
    for line in lines:
        print(json.dumps(line))


if __name__ == "__main__":
    main()
