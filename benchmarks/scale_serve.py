"""The service at shop scale: time to listen, closed-loop throughput per worker count, and
how long a write through one server takes to reach another's answers.

    python benchmarks/scale_serve.py --bundle-dir MODELS --data-dir DATA [--json]

``MODELS`` is a models folder (``storex train --out``); the database is a fresh SQLite file
filled from the bundle's data set at start, as ``storex serve`` does. Several workers and the
update delay need Redis (``--redis``). The functions return one dict each, for a bigger
benchmark to call; ``--json`` prints them as the last lines, one JSON document per step.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

REDIS = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(
    bundle_dir: Path,
    data_dir: Path,
    workers: int = 1,
    *,
    database: str | None = None,
    redis_prefix: str | None = None,
) -> Iterator[dict[str, Any]]:
    """``storex serve`` in a child process; yields its URL, start seconds and peak memory."""
    folder = Path(tempfile.mkdtemp(prefix="scale-serve-"))
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "STOREX_MODELS_DIR": str(bundle_dir),
        "STOREX_DATA_DIR": str(data_dir),
        "STOREX_SERVE__DATABASE_URL": database or f"sqlite:///{folder / 'shop.db'}",
        "STOREX_SERVE__PORT": str(port),
        "STOREX_SERVE__SESSION_MODEL_DIR": "",
        "STOREX_LOG_LEVEL": "WARNING",
    }
    if workers > 1 or redis_prefix:
        env["STOREX_SERVE__REDIS_URL"] = REDIS
        env["STOREX_SERVE__REDIS_PREFIX"] = redis_prefix or f"scale-{secrets.token_hex(4)}"
    command = [sys.executable, "-c", "from storex.cli import main; main()", "serve"]
    started = time.perf_counter()
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen([*command, "--workers", str(workers)], env=env, stderr=log)
    peak = 0.0
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError((folder / "server.log").read_text()[-2000:])
            peak = max(peak, _tree_mb(process.pid))
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield {"url": url, "seconds": time.perf_counter() - started, "peak_mb": peak}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def service_start(bundle_dir: Path, data_dir: Path, workers: int = 1) -> dict[str, Any]:
    """Seconds from process start to the port answering, with an empty database to fill."""
    with server(bundle_dir, data_dir, workers) as running:
        stats = httpx.get(f"{running['url']}/api/ratings/stats", timeout=30).json()
        return {
            "step": "service_start",
            "workers": workers,
            "seconds": round(running["seconds"], 1),
            "peak_mb": round(running["peak_mb"]),
            "users": stats.get("users"),
            "items": stats.get("items"),
            "rows": stats.get("count"),
        }


def throughput(
    base_urls: Sequence[str],
    workers: int,
    seconds: float = 10.0,
    concurrency: int = 8,
    users: Sequence[str] = (),
) -> dict[str, Any]:
    """Closed loop: each client sends its next request when the previous one answered."""
    done = [0] * concurrency
    answers: dict[str, list[str]] = {}
    stop = time.perf_counter() + seconds

    def client(slot: int) -> None:
        base = base_urls[slot % len(base_urls)]
        with httpx.Client(base_url=base, timeout=30) as http:
            while time.perf_counter() < stop:
                user = users[(done[slot] * concurrency + slot) % len(users)]
                body = http.get(f"/api/recommendations/{user}", params={"n": 10}).json()
                answers.setdefault(user, [i["id"] for i in body["items"]])
                done[slot] += 1

    threads = [threading.Thread(target=client, args=(slot,)) for slot in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return {
        "step": "serve_throughput",
        "workers": workers,
        "concurrency": concurrency,
        "requests": sum(done),
        "requests_per_s": round(sum(done) / elapsed, 1),
        "answers": answers,
    }


def update_delay(url_a: str, url_b: str, users: Sequence[str], repeats: int = 10) -> dict:
    """Write a rating through A, poll B until its answer for that user changes."""
    delays = []
    with (
        httpx.Client(base_url=url_a, timeout=30) as a,
        httpx.Client(base_url=url_b, timeout=30) as b,
    ):
        for user in users[:repeats]:
            before = b.get(f"/api/recommendations/{user}").json()["items"]
            body = {"user_id": user, "item_id": before[0]["id"], "rating": 5}
            started = time.perf_counter()
            if a.post("/api/ratings", json=body).status_code != 201:
                continue
            while b.get(f"/api/recommendations/{user}").json()["items"] == before:
                if time.perf_counter() - started > 10:
                    break
                time.sleep(0.005)
            delays.append(time.perf_counter() - started)
    delays.sort()
    return {
        "step": "update_delay",
        "writes": len(delays),
        "seconds_p50": round(delays[len(delays) // 2], 4) if delays else None,
        "seconds_max": round(delays[-1], 4) if delays else None,
    }


def _tree_mb(pid: int) -> float:
    try:
        parent = psutil.Process(pid)
        members = [parent, *parent.children(recursive=True)]
        return sum(p.memory_info().rss for p in members) / 2**20
    except psutil.Error:
        return 0.0


def serve_steps(
    bundle_dir: Path,
    data_dir: Path,
    seconds: float = 10.0,
    concurrency: int = 8,
    users: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Start, throughput with 1 then 2 workers on one database, and the update delay
    between two servers sharing it and Redis: one dict per step.

    ``users`` are asked in turn; give more than either run sends, so that no answer is
    served from the cache."""
    results = [service_start(bundle_dir, data_dir, 1)]
    folder = Path(tempfile.mkdtemp(prefix="scale-serve-db-"))
    database = f"sqlite:///{folder / 'shop.db'}"
    prefix = f"scale-{secrets.token_hex(4)}"
    users = list(users or [f"U{u:05d}" for u in range(1, 2001)])
    # each run its own answer cache: answers cached by the first must not serve the second
    with server(bundle_dir, data_dir, 1, database=database, redis_prefix=f"{prefix}-1") as one:
        single = throughput([one["url"]], 1, seconds, concurrency, users)
    with server(bundle_dir, data_dir, 2, database=database, redis_prefix=f"{prefix}-2") as two:
        double = throughput([two["url"]], 2, seconds, concurrency, users)
    same = all(
        double["answers"][u] == single["answers"][u]
        for u in double["answers"]
        if u in single["answers"]
    )
    for figures in (single, double):
        figures["answers_identical"] = same
        figures["answers"] = len(figures.pop("answers"))
    double["speedup"] = round(double["requests_per_s"] / single["requests_per_s"], 2)
    results += [single, double]
    with (
        server(bundle_dir, data_dir, 1, database=database, redis_prefix=prefix) as a,
        server(bundle_dir, data_dir, 1, database=database, redis_prefix=prefix) as b,
    ):
        results.append(update_delay(a["url"], b["url"], users[-50:]))
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle-dir", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = serve_steps(args.bundle_dir, args.data_dir, args.seconds, args.concurrency)
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    for figures in results:
        print(" ".join(f"{k}={v}" for k, v in figures.items()))
    print(f"load: {load}")
    if args.json:
        for figures in results:
            print(json.dumps(figures))


if __name__ == "__main__":
    main()
