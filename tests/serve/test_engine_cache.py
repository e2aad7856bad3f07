"""Answer caches: the in-process LRU and the Redis backend (skipped when Redis is down)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from storex.errors import ConfigError
from storex.serve.engine import (
    LRUCache,
    RecommendationEngine,
    Recommendations,
    RedisCache,
    ScoredItem,
)
from storex.serve.engine.results import Explanation
from tests.serve.test_engine import make_bundle

REDIS_URL = os.environ.get("STOREX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def answer(user: str = "u", version: str = "v1") -> Recommendations:
    reason = Explanation("i1", 0.5, 4.0, "item_weights")
    items = (ScoredItem("i2", 1.5, (reason,)), ScoredItem("i3", 0.25))
    return Recommendations(user, items, "fold_in", 0.375, version)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_answers_survive_a_json_round_trip() -> None:
    original = answer()
    assert Recommendations.from_dict(original.to_dict()) == original


def test_lru_evicts_the_least_recently_used() -> None:
    cache = LRUCache(max_entries=2, ttl_seconds=None)
    cache.put("v1", "a", "k", answer("a"))
    cache.put("v1", "b", "k", answer("b"))
    assert cache.get("v1", "a", "k") == answer("a")  # a is now the most recent
    cache.put("v1", "c", "k", answer("c"))
    assert cache.get("v1", "b", "k") is None
    assert cache.get("v1", "a", "k") is not None and len(cache) == 2


def test_lru_expires_entries() -> None:
    clock = Clock()
    cache = LRUCache(ttl_seconds=10, clock=clock)
    cache.put("v1", "a", "k", answer())
    clock.now += 9
    assert cache.get("v1", "a", "k") is not None
    clock.now += 2
    assert cache.get("v1", "a", "k") is None and len(cache) == 0


def test_lru_drops_users_and_versions() -> None:
    cache = LRUCache()
    for version in ("v1", "v2"):
        for user in ("a", "b"):
            for key in ("k1", "k2"):
                cache.put(version, user, key, answer(user, version))
    cache.drop_user("v1", "a")
    assert cache.get("v1", "a", "k1") is None and cache.get("v1", "a", "k2") is None
    assert cache.get("v2", "a", "k1") is not None and cache.get("v1", "b", "k1") is not None
    cache.drop_version("v2")
    assert len(cache) == 2


def test_bad_settings_raise() -> None:
    with pytest.raises(ConfigError):
        LRUCache(max_entries=0)
    with pytest.raises(ConfigError):
        LRUCache(ttl_seconds=0)
    with pytest.raises(ConfigError, match="prefix"):
        RedisCache(object(), prefix="bad*")


@pytest.fixture()
def redis_cache() -> Iterator[RedisCache]:
    redis = pytest.importorskip("redis", reason="the Redis cache tests need the redis package")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    cache = RedisCache(client, prefix=f"storex-test-{uuid.uuid4().hex}", ttl_seconds=60)
    yield cache
    cache.clear()
    assert list(client.scan_iter(match=f"{cache.prefix}:*")) == []
    client.close()


def test_redis_round_trip_and_drops(redis_cache: RedisCache) -> None:
    redis_cache.put("v1", "a", "k1", answer("a"))
    redis_cache.put("v1", "a", "k2", answer("a"))
    redis_cache.put("v1", "b", "k1", answer("b"))
    redis_cache.put("v2", "a", "k1", answer("a", "v2"))
    assert redis_cache.get("v1", "a", "k1") == answer("a")
    assert redis_cache.get("v1", "a", "missing") is None
    redis_cache.drop_user("v1", "a")
    assert redis_cache.get("v1", "a", "k2") is None and redis_cache.get("v1", "b", "k1")
    redis_cache.drop_version("v1")
    assert redis_cache.get("v1", "b", "k1") is None
    assert redis_cache.get("v2", "a", "k1") == answer("a", "v2")
    assert 0 < redis_cache.client.ttl(f"{redis_cache.prefix}:v2:a") <= 60


def test_redis_entries_expire(redis_cache: RedisCache) -> None:
    clock = Clock()
    cache = RedisCache(redis_cache.client, prefix=redis_cache.prefix, ttl_seconds=5, clock=clock)
    cache.put("v1", "a", "k", answer())
    clock.now += 6
    assert cache.get("v1", "a", "k") is None
    assert redis_cache.client.hlen(f"{cache.prefix}:v1:a") == 0


def test_engine_on_redis(redis_cache: RedisCache) -> None:
    engine = RecommendationEngine(make_bundle(), cache=redis_cache)
    first = engine.recommend("u0", 3, explain=True)
    again = engine.recommend("u0", 3, explain=True)
    assert again.cached and again.items == first.items
    engine.add_rating("u0", first.item_ids[0], 5.0)
    assert redis_cache.client.exists(f"{redis_cache.prefix}:v1:u0") == 0
    after = engine.recommend("u0", 3, explain=True)
    assert not after.cached and first.item_ids[0] not in after.item_ids
