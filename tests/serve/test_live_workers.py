"""Several real server processes over one database and one Redis: a write through one is in
the next answers of every other (live updates, :mod:`storex.serve.live`)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storex.errors import ConfigError
from storex.serve.server import check_workers
from tests.serve.test_api_support import KEY, VERSIONS, ServerProcess, publish, seed_shop, settings

REDIS_URL = "redis://127.0.0.1:6379/0"
DEADLINE_SECONDS = 1.0  # the bound: the next answer within one second


@pytest.fixture(scope="module")
def redis_url() -> str:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({exc})")
    return REDIS_URL


@pytest.fixture
def shared(redis_url: str, db_url: str, tmp_path: Path) -> Iterator[dict]:
    """A shop in the database, a published bundle and the environment of its servers (a
    Redis namespace of their own)."""
    seed_shop(db_url)
    publish(tmp_path / "models", VERSIONS[0])
    env = {
        "STOREX_SERVE__REDIS_URL": redis_url,
        "STOREX_SERVE__REDIS_PREFIX": f"storex-test-{secrets.token_hex(4)}",
    }
    servers: list[ServerProcess] = []
    yield {"url": db_url, "models": tmp_path / "models", "env": env, "servers": servers}
    for server in servers:
        server.stop()


def start(shared: dict, log: Path, *args: str) -> ServerProcess:
    server = ServerProcess(shared["url"], shared["models"], log, shared["env"], args)
    shared["servers"].append(server)
    server.start()
    return server


def answer(client: httpx.Client, user: str) -> list[str]:
    response = client.get(f"/api/recommendations/{user}", params={"n": 5})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def until_changed(client: httpx.Client, user: str, before: list[str]) -> tuple[list[str], float]:
    """The first answer that differs from ``before`` and how long it took to come."""
    started = time.monotonic()
    while True:
        now = answer(client, user)
        waited = time.monotonic() - started
        if now != before or waited > 5 * DEADLINE_SECONDS:
            return now, waited
        time.sleep(0.02)


def test_two_servers_agree_after_writes_through_either(shared: dict, tmp_path: Path) -> None:
    """Ratings added and deleted, users and items, written through one server or the other."""
    a = start(shared, tmp_path / "a.log")
    b = start(shared, tmp_path / "b.log")
    headers = {"X-API-Key": KEY}
    with (
        httpx.Client(base_url=a.base_url, headers=headers, timeout=10) as one,
        httpx.Client(base_url=b.base_url, headers=headers, timeout=10) as other,
    ):
        before = answer(other, "u0")
        assert answer(one, "u0") == before
        # Rating the top item excludes it from the next answer of both servers.
        body = {"user_id": "u0", "item_id": before[0], "rating": 5}
        created = one.post("/api/ratings", json=body)
        assert created.status_code == 201, created.text
        changed, waited = until_changed(other, "u0", before)
        assert before[0] not in changed and waited <= DEADLINE_SECONDS
        assert answer(one, "u0") == changed

        # Its deletion through the same server brings the item back on the other.
        assert one.delete(f"/api/ratings/{created.json()['id']}").status_code == 204
        restored, waited = until_changed(other, "u0", changed)
        assert before[0] in restored and waited <= DEADLINE_SECONDS
        assert answer(one, "u0") == restored

        # A new user and their first rating, both written through the other server.
        assert (
            other.post("/api/users", json={"external_id": "newcomer", "age": 30}).status_code == 201
        )
        first = answer(one, "newcomer")
        rated = other.post(
            "/api/ratings", json={"user_id": "newcomer", "item_id": first[0], "rating": 5}
        )
        assert rated.status_code == 201, rated.text
        changed, waited = until_changed(one, "newcomer", first)
        assert first[0] not in changed and waited <= DEADLINE_SECONDS
        assert answer(other, "newcomer") == changed

        # A new item is in the other server's catalog at once.
        item = {"id": "fresh", "title": "Fresh Book", "categories": ["Books"], "price": 5.0}
        assert one.post("/api/items", json=item).status_code == 201
        deadline = time.monotonic() + DEADLINE_SECONDS
        while other.get("/api/items/fresh/similar").status_code != 200:
            assert time.monotonic() < deadline, other.get("/api/items/fresh/similar").text
            time.sleep(0.02)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_workers_on_one_port_agree_after_a_write(shared: dict, tmp_path: Path) -> None:
    server = start(shared, tmp_path / "workers.log", "--workers", "2")
    headers = {"X-API-Key": KEY}
    # a new connection per request: the kernel spreads them over both workers
    with httpx.Client(
        base_url=server.base_url,
        headers=headers,
        timeout=10,
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        before = answer(client, "u3")
        assert {tuple(answer(client, "u3")) for _ in range(20)} == {tuple(before)}
        body = {"user_id": "u3", "item_id": before[0], "rating": 5}
        assert client.post("/api/ratings", json=body).status_code == 201
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            answers = {tuple(answer(client, "u3")) for _ in range(20)}
            if len(answers) == 1 and before[0] not in answers.pop():
                break
            assert time.monotonic() < deadline, f"the workers still disagree: {answers}"
            time.sleep(0.02)


def test_several_workers_need_redis(tmp_path: Path) -> None:
    config = settings(f"sqlite:///{tmp_path / 'shop.db'}", tmp_path, workers=2)
    with pytest.raises(ConfigError, match=r"serve\.workers is 2 but serve\.redis_url is not set"):
        check_workers(config)
    check_workers(settings(f"sqlite:///{tmp_path / 'shop.db'}", tmp_path))  # one: fine
