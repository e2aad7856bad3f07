"""No acknowledged rating is ever lost: under 120 concurrent writers, and when the server
process is killed with SIGKILL mid-load and started again."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import select, text

from storex.serve.db import Rating, make_engine, make_session_factory, upgrade_database
from tests.serve.test_api_support import (
    KEY,
    VERSIONS,
    ServerProcess,
    publish,
    seed_shop,
    serving,
    settings,
)

PAIRS = [(f"u{u}", f"i{i}") for u in range(20) for i in range(16)]


def stored_ratings(url: str) -> set[int]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return set(session.scalars(select(Rating.id)))
    finally:
        engine.dispose()


def test_concurrent_writers_lose_nothing(db_url: str, tmp_path: Path) -> None:
    seed_shop(db_url)
    publish(tmp_path / "models", VERSIONS[0])
    with serving(settings(db_url, tmp_path / "models")) as api:
        limits = httpx.Limits(max_connections=130, max_keepalive_connections=130)
        with httpx.Client(base_url=api.base_url, headers={"X-API-Key": KEY}, limits=limits) as c:

            def post(pair: tuple[str, str]) -> int:
                body = {"user_id": pair[0], "item_id": pair[1], "rating": 5}
                return c.post("/api/ratings", json=body, timeout=60).status_code

            with ThreadPoolExecutor(max_workers=120) as pool:
                statuses = list(pool.map(post, PAIRS + PAIRS[::-1]))
        assert statuses.count(201) == len(PAIRS) and statuses.count(409) == len(PAIRS)
        assert api.get("/api/ratings/stats").json()["count"] == len(PAIRS)
        assert api.get("/api/users/u7/ratings").json()["total"] == 16
        # Every rating reached the engine too: nothing left to recommend to anyone.
        assert api.get("/api/recommendations/u7").json()["items"] == []
    assert len(stored_ratings(db_url)) == len(PAIRS)


def test_a_killed_server_keeps_every_acknowledged_rating(db_url: str, tmp_path: Path) -> None:
    seed_shop(db_url)
    models = tmp_path / "models"
    publish(models, VERSIONS[0])
    server = ServerProcess(db_url, models, tmp_path / "server.log")
    server.start()
    acknowledged: set[int] = set()
    lock = threading.Lock()
    pairs = iter(PAIRS)
    enough = threading.Event()

    def writer() -> None:
        with httpx.Client(base_url=server.base_url, headers={"X-API-Key": KEY}) as client:
            while True:
                with lock:
                    pair = next(pairs, None)
                if pair is None:
                    return
                try:
                    answer = client.post(
                        "/api/ratings",
                        json={"user_id": pair[0], "item_id": pair[1], "rating": 5},
                        timeout=10,
                    )
                except httpx.HTTPError:
                    return  # the server is gone
                if answer.status_code == 201:
                    with lock:
                        acknowledged.add(answer.json()["id"])
                        if len(acknowledged) >= 60:
                            enough.set()

    threads = [threading.Thread(target=writer) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        assert enough.wait(30), "no load reached the server"
        server.kill()
        for thread in threads:
            thread.join(timeout=30)
        assert 60 <= len(acknowledged) < len(PAIRS)  # killed mid-load
        assert acknowledged <= stored_ratings(db_url)

        server.start()
        with httpx.Client(base_url=server.base_url) as client:
            kept = {
                r["id"]
                for user in sorted({u for u, _ in PAIRS})
                for r in client.get(f"/api/users/{user}/ratings").json()["ratings"]
            }
            assert acknowledged <= kept
            # The restarted engine replayed them: u0's acknowledged items are not offered.
            rated = {r["item_id"] for r in client.get("/api/users/u0/ratings").json()["ratings"]}
            offered = client.get("/api/recommendations/u0", params={"n": 16}).json()["items"]
            assert rated and not rated & {i["id"] for i in offered}
    finally:
        server.kill()


def test_reads_answer_while_a_writer_holds_the_lock(sqlite_url: str, tmp_path: Path) -> None:
    """SQLite: a transaction holding the write lock delays no read (WAL readers)."""
    upgrade_database(sqlite_url)
    seed_shop(sqlite_url)
    publish(tmp_path / "models", VERSIONS[0])
    writer = make_engine(sqlite_url)
    reads = (
        "/api/users/u1",
        "/api/users/u1/ratings",
        "/api/items",
        "/api/items/i1",
        "/api/items/search?q=item",
        "/api/ratings/stats",
        "/api/recommendations/u2",
        "/api/health",
    )
    try:
        with serving(settings(sqlite_url, tmp_path / "models")) as api:
            with writer.begin() as connection:  # BEGIN IMMEDIATE: the write lock is taken
                connection.execute(text("INSERT INTO items (external_id) VALUES ('pending')"))
                for path in reads:
                    assert api.get(path, timeout=5).status_code == 200, path
                assert api.get("/api/items/pending", timeout=5).status_code == 404
            assert api.get("/api/items/pending").status_code == 200  # committed now
    finally:
        writer.dispose()
