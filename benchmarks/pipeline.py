"""Time and peak memory of the data pipeline, from files to a saved graph.

Prints one JSON line per input: ``{"input", "users", "items", "interactions", "seconds",
"peak_mb", "load"}``. Each input runs in a fresh process so peak memory is its own.

    python benchmarks/pipeline.py                     # every input found
    python benchmarks/pipeline.py --only ml-100k      # one input
    python benchmarks/pipeline.py --synthetic-rows 10000000   # generator scale run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PUBLIC_INPUTS = (
    "ml-100k",
    "lightgcnpp-ml-1m",
    "lightgcnpp-lastfm",
    "amazon-gift-cards",
    "diginetica-sample",
)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_prepare(source: str) -> dict[str, object]:
    """Child process: one pipeline run into a throwaway folder."""
    from storex.config import load_settings
    from storex.pipeline import prepare

    settings = load_settings()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = prepare(source, Path(out) / "graph", settings)
        seconds = time.perf_counter() - start
    summary = result.summary
    return {
        "input": source,
        "users": summary["users"],
        "items": summary["items"],
        "interactions": summary["interactions"],
        "seconds": round(seconds, 2),
        "stage_seconds": summary["stage_seconds"],
        "peak_mb": round(_peak_mb(), 1),
    }


def run_generator(rows: int) -> dict[str, object]:
    """Child process: stream a synthetic store of ``rows`` interactions to Parquet."""
    from storex.data.synthetic import SyntheticConfig, write_store

    config = SyntheticConfig(
        n_users=max(1_000, rows // 50), n_items=max(600, rows // 500), n_interactions=rows
    )
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        counts = write_store(config, out)
        seconds = time.perf_counter() - start
    return {
        "input": f"synthetic-generate-{rows}",
        **{k: v for k, v in counts.items() if isinstance(v, int)},
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "peak_mb": round(_peak_mb(), 1),
    }


def run_synthetic_files(rows: int) -> dict[str, object]:
    """Child process: generate ``rows`` interactions to Parquet, then time prepare on them."""
    from storex.data.synthetic import SyntheticConfig, write_store

    config = SyntheticConfig(
        n_users=max(1_000, rows // 50), n_items=max(600, rows // 300), n_interactions=rows
    )
    with tempfile.TemporaryDirectory() as folder:
        write_store(config, folder)
        result = run_prepare(folder)
    result["input"] = f"synthetic-files-{rows}"
    return result


def _child(args: list[str]) -> dict[str, object] | None:
    completed = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        tail = completed.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"input": args[-1], "error": tail[0]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="one public input name or path")
    parser.add_argument("--synthetic-rows", type=int, default=1_000_000)
    parser.add_argument("--generate-rows", type=int, default=10_000_000)
    parser.add_argument("--child", choices=["prepare", "generate", "synthetic-files"])
    parser.add_argument("source", nargs="?")
    args = parser.parse_args()

    if args.child == "prepare":
        print(json.dumps(run_prepare(args.source)))
        return
    if args.child == "generate":
        print(json.dumps(run_generator(int(args.source))))
        return
    if args.child == "synthetic-files":
        print(json.dumps(run_synthetic_files(int(args.source))))
        return

    from storex.config import load_settings

    data_dir = load_settings().data_dir
    jobs: list[list[str]] = []
    if args.only:
        jobs.append(["--child", "prepare", args.only])
    else:
        for name in PUBLIC_INPUTS:
            jobs.append(["--child", "prepare", name])
        jobs.append(["--child", "prepare", "synthetic"])
        jobs.append(["--child", "synthetic-files", str(args.synthetic_rows)])
        jobs.append(["--child", "generate", str(args.generate_rows)])
    for job in jobs:
        if job[1] == "prepare" and job[2] in PUBLIC_INPUTS and not data_dir.exists():
            print(json.dumps({"input": job[2], "skipped": f"no data folder at {data_dir}"}))
            continue
        result = _child(job)
        if result is not None:
            result["load"] = [round(x, 2) for x in os.getloadavg()]
            result["cpus"] = os.cpu_count()
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
