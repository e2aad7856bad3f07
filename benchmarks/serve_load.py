"""Load on the HTTP service over MovieLens-100K: latency percentiles and throughput.

Builds the ml-100k EASE bundle when missing, fills a SQLite database from ml-100k (users,
items and ratings), starts the service as its own process on loopback, then drives it from
another process with N concurrent asyncio clients asking for random known users: first with
varied requests (mostly cache misses), then with a warm set of repeated ones (cache hits).
Last, a rating is posted and the next answer must leave the rated item out. Prints one JSON
line at the end.

    python benchmarks/serve_load.py --concurrency 50 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np

KEY = "bench-key"
DATASET = "ml-100k"


def build_bundle(work: Path, models: Path) -> str:
    """Train EASE on ml-100k (prepared once) and publish it; returns the version."""
    from storex.config import load_settings
    from storex.experiment import build_model, save_bundle, train_and_evaluate, tuned_settings
    from storex.models.data import InteractionData
    from storex.pipeline import prepare
    from storex.serve.engine import ModelRegistry

    artifacts = work / "artifacts" / DATASET
    if not (artifacts / "manifest.json").is_file():
        prepare(DATASET, artifacts, load_settings())
    data = InteractionData.from_artifacts(artifacts)
    model = build_model("ease", tuned_settings(DATASET, "ease"))
    result = train_and_evaluate(model, data, protocols=("reference",))
    bundle = save_bundle(result, data, artifacts, models, dataset=DATASET)
    return ModelRegistry(models, "ease").publish(bundle.path)


def build_database(url: str) -> list[str]:
    """ml-100k users, items and ratings in the database; returns the user ids."""
    from sqlalchemy import select

    from storex.config import load_settings
    from storex.serve.db import User, init_database, make_engine, make_session_factory

    init_database(url, source=DATASET, data_dir=load_settings().data_dir, with_history=True)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return list(session.scalars(select(User.external_id)))
    finally:
        engine.dispose()


def start_server(url: str, models: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "STOREX_SERVE_DATABASE_URL": url,
        "STOREX_SERVE_MODELS_DIR": str(models),
        "STOREX_SERVE_API_KEY": KEY,
        "STOREX_SERVE_PORT": str(port),
        "STOREX_SERVE_LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from storex.serve.server import run; run()"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).is_success:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not answer within 180 s")


# ---- the load, in its own process ------------------------------------------------------


async def phase(
    base: str, requests: list[tuple[str, dict[str, Any]]], concurrency: int, seconds: float
) -> dict[str, Any]:
    """Run ``concurrency`` clients cycling through ``requests`` for ``seconds``."""
    latencies: list[float] = []
    errors = cached = 0
    kinds: Counter[str] = Counter()
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker(offset: int) -> None:
            nonlocal errors, cached
            position = offset
            while time.perf_counter() < deadline:
                path, params = requests[position % len(requests)]
                position += concurrency
                start = time.perf_counter()
                try:
                    answer = await client.get(path, params=params)
                    ok = answer.status_code == 200
                    cached += bool(ok and answer.json()["cached"])
                    if not ok:
                        kinds[str(answer.status_code)] += 1
                except httpx.HTTPError as exc:
                    ok = False
                    kinds[type(exc).__name__] += 1
                latencies.append((time.perf_counter() - start) * 1000)
                errors += not ok

        start = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - start
    values = np.array(latencies) if latencies else np.zeros(1)
    return {
        "requests": len(latencies),
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "rps": round(len(latencies) / elapsed, 1),
        "errors": errors,
        "error_kinds": dict(kinds),
        "cache_hit_share": round(cached / max(len(latencies), 1), 3),
    }


async def rating_check(base: str, user: str) -> dict[str, Any]:
    """Rate the user's top item; the next answer must be fresh and leave it out."""
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": KEY}, timeout=30) as c:
        before = (await c.get(f"/api/recommendations/{user}")).json()
        top = before["items"][0]["id"]
        posted = await c.post("/api/ratings", json={"user_id": user, "item_id": top, "rating": 5})
        after = (await c.get(f"/api/recommendations/{user}")).json()
    after_ids = [item["id"] for item in after["items"]]
    return {
        "user": user,
        "item": top,
        "status": posted.status_code,
        "reflected": posted.status_code == 201 and top not in after_ids and not after["cached"],
    }


def load(base: str, users: list[str], concurrency: int, seconds: float, out: Any) -> None:
    rng = random.Random(7)
    varied = [
        (f"/api/recommendations/{rng.choice(users)}", {"n": rng.randint(5, 60)})
        for _ in range(200_000)
    ]
    warm_users = rng.sample(users, min(100, len(users)))
    warm = [(f"/api/recommendations/{u}", {"n": 10}) for u in warm_users]

    async def run() -> dict[str, Any]:
        uncached = await phase(base, varied, concurrency, seconds / 2)
        await phase(base, warm, min(concurrency, len(warm)), 1.0)  # fill the cache
        cached = await phase(base, warm, concurrency, seconds / 2)
        check = await rating_check(base, rng.choice([u for u in users if u not in warm_users]))
        return {"uncached": uncached, "cached": cached, "rating_check": check}

    out.put(asyncio.run(run()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--work", type=Path, default=Path("artifacts/serve-load"))
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    models = work / "models"
    started = time.perf_counter()
    if not (models / "ease" / "current.json").is_file():
        build_bundle(work, models)
    database = work / "serve.db"
    for stale in work.glob("serve.db*"):
        stale.unlink()  # a fresh copy of ml-100k each run
    url = f"sqlite:///{database}"
    users = build_database(url)
    setup_seconds = time.perf_counter() - started

    started = time.perf_counter()
    server = start_server(url, models, args.port, work / "server.log")
    startup_seconds = time.perf_counter() - started
    try:
        queue: mp.Queue[dict[str, Any]] = mp.get_context("spawn").Queue()
        client = mp.get_context("spawn").Process(
            target=load,
            args=(f"http://127.0.0.1:{args.port}", users, args.concurrency, args.seconds, queue),
        )
        client.start()
        result = queue.get(timeout=args.seconds + 300)
        client.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        json.dumps(
            {
                "benchmark": "serve_load",
                "dataset": DATASET,
                "model": "ease",
                "concurrency": args.concurrency,
                "seconds": args.seconds,
                "setup_seconds": round(setup_seconds, 1),
                "server_startup_seconds": round(startup_seconds, 1),
                "cpus": os.cpu_count(),
                **result,
            }
        )
    )


if __name__ == "__main__":
    main()
