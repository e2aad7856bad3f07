"""Load on the HTTP service over MovieLens-100K: latency percentiles and throughput.

Builds the ml-100k EASE bundle when missing, fills a SQLite database from ml-100k (users,
items and ratings), starts the service as its own process on loopback, then drives it from
another process: ``--concurrency`` users, each on its own keep-alive connection, asking for
recommendations of random known users.

Phases, each reported with latency percentiles, throughput, errors, the CPU share of the
server and of the load generator, and the machine's load average:

``uncached`` / ``cached``
    The users together offer ``--rate`` requests per second (each user waits a random,
    exponentially distributed time between requests, as shoppers do). ``uncached`` asks
    varied requests (other users and list lengths: mostly answer-cache misses), ``cached``
    repeats a warm set (hits). Latency counts from when a request was due, so a request
    delayed by a slow previous answer is charged the delay too.
``saturation_uncached`` / ``saturation_cached``
    Every user sends the next request as soon as the answer arrives: the most the service
    can answer. Here latency is ``concurrency / throughput`` (Little's law), whatever the
    server does, so it measures capacity, not responsiveness.

Last, several users each rate their top item and ask again at once: the answer must be
fresh and leave the item out. The top-level ``p50_ms`` ... ``errors`` are the uncached
phase's. Prints one JSON line at the end.

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
import psutil

KEY = "bench-key"
DATASET = "ml-100k"
HOST = "127.0.0.1"
CHECK_EVERY = 50  # one answer in this many is parsed in full and checked


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


def start_server(
    url: str, models: Path, port: int, log: Path, log_level: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "STOREX_SERVE__DATABASE_URL": url,
        "STOREX_MODELS_DIR": str(models),
        "STOREX_SERVE__API_KEY": KEY,
        "STOREX_SERVE__PORT": str(port),
        "STOREX_LOG_LEVEL": log_level,
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
            if httpx.get(f"http://{HOST}:{port}/api/health", timeout=2).is_success:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not answer within 180 s")


# ---- the load, in its own process ------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection sending GETs: a bare client, so that the load
    generator spends far less CPU per request than the server it measures."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection(HOST, port))

    async def get(self, target: bytes) -> tuple[int, bytes]:
        self.writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: bench\r\n\r\n")
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        start = head.lower().find(b"\r\ncontent-length:")
        if start < 0:
            raise ConnectionError("an answer without content-length")
        end = head.index(b"\r\n", start + 2)
        body = await self.reader.readexactly(int(head[start + 17 : end]))
        return status, body

    def close(self) -> None:
        self.writer.close()


Target = tuple[bytes, str]  # request target and the user it is for


async def phase(
    port: int,
    targets: list[Target],
    concurrency: int,
    seconds: float,
    rate: float | None,
    server_pid: int,
) -> dict[str, Any]:
    """``concurrency`` users cycling through ``targets`` for ``seconds``.

    With ``rate`` the users together offer that many requests per second (exponential
    waits); without, each sends as soon as its previous answer is in.
    """
    latencies: list[float] = []
    kinds: Counter[str] = Counter()
    counts = {"errors": 0, "cached": 0, "checked": 0}
    connections = [await Connection.open(port) for _ in range(concurrency)]
    server = psutil.Process(server_pid)
    mean_wait = None if rate is None else concurrency / rate
    clock = time.perf_counter
    deadline = clock() + seconds

    async def user(number: int, connection: Connection) -> None:
        rng = random.Random(number)
        position = number
        answered = 0
        due = clock() + (0.0 if mean_wait is None else rng.uniform(0, mean_wait))
        while due < deadline:
            if mean_wait is not None:
                wait = due - clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            target, user_id = targets[position % len(targets)]
            position += concurrency
            sent = clock() if mean_wait is None else due
            try:
                status, body = await connection.get(target)
                ok = status == 200
                if not ok:
                    kinds[str(status)] += 1
                elif b'"cached":true' in body:
                    counts["cached"] += 1
                answered += 1
                if ok and answered % CHECK_EVERY == 0:
                    ok = _answer_is_sound(body, user_id)
                    counts["checked"] += 1
                    if not ok:
                        kinds["unsound_answer"] += 1
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                ok = False
                kinds[type(exc).__name__] += 1
                connection.close()
                connection = await Connection.open(port)
            done = clock()
            latencies.append((done - sent) * 1000)
            counts["errors"] += not ok
            due = done if mean_wait is None else due + rng.expovariate(1 / mean_wait)

    cpu_before, server_before = time.process_time(), _cpu_seconds(server)
    start = clock()
    await asyncio.gather(*(user(i, c) for i, c in enumerate(connections)))
    elapsed = clock() - start
    client_cpu, server_cpu = time.process_time() - cpu_before, _cpu_seconds(server) - server_before
    for connection in connections:
        connection.close()
    values = np.array(latencies) if latencies else np.zeros(1)
    return {
        "offered_rps": rate,
        "requests": len(latencies),
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "max_ms": round(float(values.max()), 2),
        "rps": round(len(latencies) / elapsed, 1),
        "errors": counts["errors"],
        "error_kinds": dict(kinds),
        "answers_checked": counts["checked"],
        "cache_hit_share": round(counts["cached"] / max(len(latencies), 1), 3),
        "server_cpu_share": round(server_cpu / elapsed, 2),
        "client_cpu_share": round(client_cpu / elapsed, 2),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
    }


def _answer_is_sound(body: bytes, user_id: str) -> bool:
    answer = json.loads(body)
    return answer["user_id"] == user_id and bool(answer["items"]) and answer["items"][0]["title"]


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def rating_checks(port: int, users: list[str]) -> dict[str, Any]:
    """Each user rates their top item; the very next answer must be fresh and leave it out."""
    base = f"http://{HOST}:{port}"
    results = []
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": KEY}, timeout=30) as c:
        for user in users:
            before = (await c.get(f"/api/recommendations/{user}")).json()
            top = before["items"][0]["id"]
            started = time.perf_counter()
            posted = await c.post(
                "/api/ratings", json={"user_id": user, "item_id": top, "rating": 5}
            )
            rated = time.perf_counter()
            after = (await c.get(f"/api/recommendations/{user}")).json()
            done = time.perf_counter()
            results.append(
                {
                    "reflected": posted.status_code == 201
                    and top not in [item["id"] for item in after["items"]]
                    and not after["cached"],
                    "rating_ms": (rated - started) * 1000,
                    "next_answer_ms": (done - rated) * 1000,
                    "strategy_after": after["strategy"],
                }
            )
    return {
        "users": len(results),
        "reflected": sum(r["reflected"] for r in results),
        "rating_p50_ms": round(float(np.median([r["rating_ms"] for r in results])), 2),
        "next_answer_p50_ms": round(float(np.median([r["next_answer_ms"] for r in results])), 2),
        "strategies_after": dict(Counter(r["strategy_after"] for r in results)),
    }


def load(
    port: int,
    server_pid: int,
    users: list[str],
    options: dict[str, Any],
    out: mp.Queue[dict[str, Any]],
) -> None:
    concurrency, seconds, rate = options["concurrency"], options["seconds"], options["rate"]
    saturation = options["saturation_seconds"]
    rng = random.Random(7)

    def target(user: str, n: int) -> Target:
        return f"/api/recommendations/{user}?n={n}".encode(), user

    varied = [target(rng.choice(users), rng.randint(5, 60)) for _ in range(200_000)]
    warm_users = rng.sample(users, min(100, len(users)))
    warm = [target(u, 10) for u in warm_users]
    checked = rng.sample([u for u in users if u not in warm_users], 20)

    async def run() -> dict[str, Any]:
        results: dict[str, Any] = {}
        await phase(port, warm, len(warm), 1.0, None, server_pid)  # connect, fill the cache
        results["uncached"] = await phase(port, varied, concurrency, seconds / 2, rate, server_pid)
        results["cached"] = await phase(port, warm, concurrency, seconds / 2, rate, server_pid)
        if saturation > 0:
            results["saturation_uncached"] = await phase(
                port, varied[::-1], concurrency, saturation, None, server_pid
            )
            results["saturation_cached"] = await phase(
                port, warm, concurrency, saturation, None, server_pid
            )
        results["rating_check"] = await rating_checks(port, checked)
        return results

    out.put(asyncio.run(run()))


def server_stack() -> dict[str, str]:
    """What uvicorn picks ("auto"): httptools and uvloop when installed, else h11 and asyncio."""
    from importlib.util import find_spec

    return {
        "http": "httptools" if find_spec("httptools") else "h11",
        "loop": "uvloop" if find_spec("uvloop") else "asyncio",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=50, help="Simultaneous users.")
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="Length of the two paced phases together."
    )
    parser.add_argument(
        "--rate", type=float, default=600.0, help="Requests per second the users offer."
    )
    parser.add_argument(
        "--saturation-seconds", type=float, default=5.0, help="Each saturation phase; 0: skip."
    )
    parser.add_argument(
        "--log-level", default="INFO", help="Server log level (INFO writes access lines)."
    )
    parser.add_argument("--work", type=Path, default=Path("artifacts/serve-load"))
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    load_before = os.getloadavg()
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
    server = start_server(url, models, args.port, work / "server.log", args.log_level)
    startup_seconds = time.perf_counter() - started
    options = {
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "rate": args.rate,
        "saturation_seconds": args.saturation_seconds,
    }
    try:
        context = mp.get_context("spawn")
        queue: mp.Queue[dict[str, Any]] = context.Queue()
        client = context.Process(target=load, args=(args.port, server.pid, users, options, queue))
        client.start()
        result = queue.get(timeout=2 * args.seconds + 4 * args.saturation_seconds + 300)
        client.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    uncached = result["uncached"]
    print(
        json.dumps(
            {
                "benchmark": "serve_load",
                "dataset": DATASET,
                "model": "ease",
                "concurrency": args.concurrency,
                "offered_rps": args.rate,
                "seconds": args.seconds,
                "server_log_level": args.log_level,
                "server_stack": server_stack(),
                **{k: uncached[k] for k in ("p50_ms", "p95_ms", "p99_ms", "rps", "errors")},
                "setup_seconds": round(setup_seconds, 1),
                "server_startup_seconds": round(startup_seconds, 1),
                "cpus": os.cpu_count(),
                "loadavg_before": [round(x, 2) for x in load_before],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                **result,
            }
        )
    )


if __name__ == "__main__":
    main()
