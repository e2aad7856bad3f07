"""StoreX at a shop's size, step by step, as a new user runs it: one JSON line per step.

Steps: a generated store (``storex data synth``), ``storex data prepare``, one training
epoch of LightGCN beside item-kNN (``storex train``, test ndcg@20 of both and of the
popularity baseline), batch scoring of every user in one process and on a
2-worker Dask LocalCluster, the item index (recall@10 against exact, engine latency),
service start, closed-loop throughput with 1 and 2 workers, and the delay until a write
through one worker shows in another's answers.

Commands run as child processes, timed from outside, their peak memory (the process tree's
resident set) sampled every 0.1 s. Scoring speed is given as a share of the fp32 GEMM peak
measured in the same process just before and after (the higher of the two), so figures
compare across loads and machines.

    python benchmarks/scale.py                                   # 50K users, 100K items, 1M rows
    python benchmarks/scale.py --users 200000 --items 33000 --interactions 10000000
    python benchmarks/scale.py --steps synth prepare train --work /tmp/scale

A table goes to stderr; stdout holds the JSON lines (the last one per step).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import torch

STEPS = ("synth", "prepare", "train", "batch", "ann", "serve")
STOREX = [sys.executable, "-c", "from storex.cli import main; main()"]
TRAIN_CONFIG = """\
dataset: scale
models:
  lightgcn:
    embedding_dim: {dim}
    num_layers: 2
    normalize_output: true
    train:
      loss: bpr
      batch_size: {batch}
      lr: 0.01
      embedding_reg: 0.0
      epochs: {epochs}
      eval_every: 1
      patience: 4
      metric: ndcg@20
"""


def measured(command: list[str], cwd: Path) -> dict[str, Any]:
    """Run ``command``; its wall seconds, peak resident MB (whole process tree), stdout."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    process = psutil.Process(child.pid)
    while child.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    out, err = child.communicate()
    if child.returncode:
        raise RuntimeError(f"{' '.join(command[3:])} failed:\n{err[-2000:]}")
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "peak_mb": round(peak / 2**20),
        "stdout": out,
    }


def last_json(stdout: str) -> dict[str, Any]:
    return json.loads(stdout.strip().splitlines()[-1])


def line(step: str, run: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "step": step,
        **fields,
        "seconds": run["seconds"],
        "peak_mb": run["peak_mb"],
        "load": round(os.getloadavg()[0], 2),
    }


def step_synth(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    command = [*STOREX, "data", "synth", "--out", str(work / "store")]
    command += ["--users", str(args.users), "--items", str(args.items)]
    command += ["--interactions", str(args.interactions), "--seed", str(args.seed)]
    run = measured(command, work)
    summary = last_json(run["stdout"])
    return line(
        "synth",
        run,
        rows=summary.get("interactions"),
        users=summary.get("users"),
        items=summary.get("items"),
    )


def step_prepare(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    command = [*STOREX, "data", "prepare", str(work / "store"), "--out", str(work / "prepared")]
    run = measured(command, work)
    summary = last_json(run["stdout"])
    return line(
        "prepare",
        run,
        rows=summary["raw_interactions"],
        users=summary["users"],
        items=summary["items"],
        stage_seconds=summary.get("stage_seconds"),
    )


def step_train(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    config = work / "train.yaml"
    config.write_text(TRAIN_CONFIG.format(dim=args.dim, batch=args.batch, epochs=args.epochs))
    command = [*STOREX, "train", str(work / "prepared"), "--model", "lightgcn"]
    command += ["--model", "item_knn"]  # the baseline a graph model must beat
    command += ["--config", str(config), "--out", str(work / "models"), "--no-cold-start"]
    run = measured(command, work)
    summary = last_json(run["stdout"])
    bundle = Path(summary["bundles"]["lightgcn"])
    info = json.loads((bundle / "bundle.json").read_text())
    manifest = json.loads((work / "prepared" / "summary.json").read_text())
    history = info["history"]
    fields: dict[str, Any] = {
        "rows": manifest["splits"]["train"],
        "users": manifest["users"],
        "items": manifest["items"],
        "epoch_seconds": round(float(np.mean([h["seconds"] for h in history])), 1),
        "epochs": len(history),
        "valid_ndcg@20": round(max(h.get("ndcg@20", 0.0) for h in history), 4),
        "bundle": str(bundle),
    }
    for trained in summary["bundles"].values():  # each model's report, baselines beside it
        fields |= test_metrics(Path(trained) / "report" / "report.json")
    return line("train", run, **fields)


def test_metrics(report: Path) -> dict[str, Any]:
    """ndcg@20 on test (reference protocol) of every model and baseline of the report."""
    tables = json.loads(report.read_text())["tables"]
    table = next(t for t in tables if t["split"] == "test" and t["protocol"] == "reference")
    return {
        f"test_ndcg@20_{row['model']}": round(row["metrics"]["ndcg@20"], 4) for row in table["rows"]
    }


def step_batch(args: argparse.Namespace, work: Path, bundle_dir: Path) -> list[dict[str, Any]]:
    """Every user's top-10 to Parquet, in this process and on a LocalCluster."""
    from distributed import Client, LocalCluster

    from storex.batch import (
        BatchJob,
        FileSink,
        gemm_peak_gflops,
        read_output,
        run_dask,
        run_local,
    )
    from storex.bundle import ModelBundle

    bundle = ModelBundle.load(bundle_dir)
    parts = 4 * args.dask_workers  # enough tasks to keep every worker busy to the end
    job = BatchJob(bundle, k=10, partition_users=max(1024, -(-len(bundle.user_map) // parts)))
    lines = []
    for mode in ("local", "dask"):
        before = gemm_peak_gflops()
        started_rss = psutil.Process().memory_info().rss
        if mode == "local":
            result = run_local(job, FileSink(work / "batch-local"))
        else:
            with (
                LocalCluster(
                    n_workers=args.dask_workers,
                    threads_per_worker=max(1, torch.get_num_threads() // args.dask_workers),
                    dashboard_address=None,
                ) as cluster,
                Client(cluster) as client,
            ):
                client.run(_import_scoring)  # worker start-up is not scoring time
                result = run_dask(job, FileSink(work / "batch-dask"), client)
        peak = max(before, gemm_peak_gflops())
        gflops = result.gflops or 0.0
        run = {
            "seconds": round(result.seconds, 2),
            "peak_mb": round(max(started_rss, psutil.Process().memory_info().rss) / 2**20),
        }
        lines.append(
            line(
                f"batch_{mode}",
                run,
                rows=result.rows,
                users=result.users,
                items=len(bundle.item_map),
                workers=result.workers,
                gflops=round(gflops, 1),
                peak_gflops=round(peak, 1),
                ratio=round(gflops / peak, 3),
            )
        )
    local, dask = (read_output(work / f"batch-{mode}") for mode in ("local", "dask"))
    lines[-1]["identical_to_local"] = bool(local.equals(dask))
    return lines


def _import_scoring() -> None:
    import storex.batch.scoring  # noqa: F401  (torch and the model classes with it)


def step_ann(args: argparse.Namespace, bundle_dir: Path) -> dict[str, Any]:
    """The engine's answers through the bundle's item index: recall@10 against an exact
    scan, and latency per answer (one thread, distinct users, no answer cache)."""
    import faiss

    from storex.bundle import ModelBundle
    from storex.retrieval.ann import ItemIndex
    from storex.retrieval.exact import exact_top_k
    from storex.serve.engine import RecommendationEngine

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    bundle = ModelBundle.load(bundle_dir)
    users, items = bundle.model.dot_factors()
    started = time.perf_counter()
    bundle.index = ItemIndex(items, queries=users)  # built here, so its build is timed
    build = time.perf_counter() - started
    engine = RecommendationEngine(bundle, score_cache_mb=0)
    rng = np.random.default_rng(args.seed)
    chosen = rng.choice(len(bundle.user_map), size=min(args.queries, len(bundle.user_map)))
    seen = bundle.data.matrix("train")
    exact, _ = exact_top_k(users[chosen], items, 10, exclude=seen[chosen])
    seconds, hits = [], 0
    for row, user in enumerate(chosen.tolist()):
        external = bundle.user_map.external(user)
        begin = time.perf_counter()
        answer = engine.recommend(external, 10)
        seconds.append(time.perf_counter() - begin)
        found = {bundle.item_map.index(i) for i in answer.item_ids}
        hits += len(found & set(exact[row].tolist()))
    ms = np.asarray(seconds) * 1000
    run = {"seconds": round(float(np.sum(seconds)), 2), "peak_mb": rss_mb()}
    return line(
        "ann",
        run,
        users=len(chosen),
        items=len(bundle.item_map),
        recall_at_10=round(hits / (10 * len(chosen)), 4),
        engine_p50_ms=round(float(np.percentile(ms, 50)), 3),
        engine_p95_ms=round(float(np.percentile(ms, 95)), 3),
        build_seconds=round(build, 2),
    )


def rss_mb() -> int:
    return round(psutil.Process().memory_info().rss / 2**20)


def table(lines: list[dict[str, Any]]) -> str:
    keys = ("step", "rows", "users", "items", "seconds", "peak_mb", "ratio", "load")
    rows = [keys] + [tuple(str(entry.get(k, "")) for k in keys) for entry in lines]
    widths = [max(len(r[i]) for r in rows) for i in range(len(keys))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64, help="LightGCN embedding size.")
    parser.add_argument("--batch", type=int, default=8192, help="Training batch size.")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--dask-workers", type=int, default=2)
    parser.add_argument("--queries", type=int, default=500, help="Engine answers timed.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--serve-seconds", type=float, default=10.0, help="Per throughput run.")
    parser.add_argument("--concurrency", type=int, default=8, help="Closed-loop clients.")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--work", type=Path, help="Working folder (default: a temporary one).")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="storex-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    lines: list[dict[str, Any]] = []

    def emit(entry: dict[str, Any]) -> None:
        lines.append(entry)
        print(json.dumps(entry), flush=True)

    bundle_dir = newest_bundle(work)
    for step in args.steps:
        print(f"{step} ...", file=sys.stderr, flush=True)
        if step == "synth":
            emit(step_synth(args, work))
        elif step == "prepare":
            emit(step_prepare(args, work))
        elif step == "train":
            entry = step_train(args, work)
            bundle_dir = Path(entry["bundle"])
            emit(entry)
        elif step == "batch":
            for entry in step_batch(args, work, require(bundle_dir)):
                emit(entry)
        elif step == "ann":
            emit(step_ann(args, require(bundle_dir)))
        elif step == "serve":
            for entry in step_serve(args, work, require(bundle_dir)):
                emit(entry)
    print(table(lines), file=sys.stderr)


def newest_bundle(work: Path) -> Path | None:
    found = sorted((work / "models").glob("*/*/bundle.json"), key=lambda p: p.parent.name)
    return found[-1].parent if found else None


def require(bundle_dir: Path | None) -> Path:
    if bundle_dir is None:
        raise SystemExit("no bundle in the working folder: run the train step first")
    return bundle_dir


def step_serve(args: argparse.Namespace, work: Path, bundle_dir: Path) -> list[dict[str, Any]]:
    """Service start, throughput with 1 and 2 workers, cross-worker update delay
    (:mod:`scale_serve`), with the load of the moment on each line."""
    sys.path.insert(0, str(Path(__file__).parent))
    from scale_serve import serve_steps
    from storex.bundle import ModelBundle

    users = ModelBundle.load(bundle_dir).user_map.ids
    lines = serve_steps(work / "models", work, args.serve_seconds, args.concurrency, users)
    return [{**entry, "load": round(os.getloadavg()[0], 2)} for entry in lines]


if __name__ == "__main__":
    main()
