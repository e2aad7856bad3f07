"""Caches of recommendation lists: an in-process LRU by default, Redis when configured.

Entries are addressed by ``(model version, user, request key)``. The engine drops a user's
entries when their interactions change and a version's entries when the model is swapped;
the request key also carries the user's state generation, so an answer computed from an old
state can never be read back after a change, even if it was stored late.

The in-process cache keeps each answer packed into tuples of strings and an array of
scores: such values hold no reference the garbage collector must follow, so ten thousand
cached answers do not make every full collection walk a third of a million small objects.
"""

from __future__ import annotations

import json
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from storex.errors import ConfigError
from storex.serve.engine.results import Explanation, Recommendations, ScoredItem

_Key = tuple[str, str, str]
# user, strategy, confidence, model version, item ids, scores, reasons (None: no reasons)
_Packed = tuple[str, str, float, str, tuple[str, ...], array, tuple[Any, ...] | None]


class RecommendationCache(Protocol):
    """What the engine needs from a cache backend."""

    def get(self, version: str, user: str, key: str) -> Recommendations | None: ...

    def put(self, version: str, user: str, key: str, value: Recommendations) -> None: ...

    def drop_user(self, version: str, user: str) -> None: ...

    def drop_version(self, version: str) -> None: ...


class LRUCache:
    """Thread-safe LRU with a time to live, in this process.

    Parameters
    ----------
    max_entries
        Entries kept; the least recently used go first.
    ttl_seconds
        Age after which an entry is a miss (None: no expiry).
    clock
        Time source (seconds), replaceable in tests.
    """

    def __init__(
        self,
        max_entries: int = 10_000,
        ttl_seconds: float | None = 300.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ConfigError(f"cache max_entries must be >= 1, got {max_entries}")
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ConfigError(f"cache ttl_seconds must be > 0 or None, got {ttl_seconds}")
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[_Key, tuple[float, _Packed]] = OrderedDict()
        self._by_user: dict[tuple[str, str], set[str]] = {}
        self._lock = threading.Lock()

    def get(self, version: str, user: str, key: str) -> Recommendations | None:
        with self._lock:
            entry = self._entries.get((version, user, key))
            if entry is None:
                return None
            stored, value = entry
            if self.ttl_seconds is not None and self._clock() - stored > self.ttl_seconds:
                self._forget((version, user, key))
                return None
            self._entries.move_to_end((version, user, key))
        return _unpack(value)

    def put(self, version: str, user: str, key: str, value: Recommendations) -> None:
        packed = _pack(value)
        with self._lock:
            self._entries[(version, user, key)] = (self._clock(), packed)
            self._entries.move_to_end((version, user, key))
            self._by_user.setdefault((version, user), set()).add(key)
            while len(self._entries) > self.max_entries:
                self._forget(next(iter(self._entries)))

    def drop_user(self, version: str, user: str) -> None:
        with self._lock:
            for key in list(self._by_user.get((version, user), ())):
                self._forget((version, user, key))

    def drop_version(self, version: str) -> None:
        with self._lock:
            for entry in [k for k in self._entries if k[0] == version]:
                self._forget(entry)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _forget(self, entry: _Key) -> None:
        self._entries.pop(entry, None)
        keys = self._by_user.get(entry[:2])
        if keys is not None:
            keys.discard(entry[2])
            if not keys:
                del self._by_user[entry[:2]]


class RedisCache:
    """Recommendation lists in Redis, shared by every process of the service.

    Layout: one hash per ``(version, user)`` at ``<prefix>:<version>:<user>``, one field per
    request key holding JSON with the time it was stored. The hash expires ``ttl_seconds``
    after its last write and stale fields are ignored on read, so each entry lives at most
    ``ttl_seconds``.

    Parameters
    ----------
    client
        A ``redis.Redis`` client (or anything with its hash, key and scan commands).
    prefix
        Namespace of every key, so several services (or tests) can share one Redis.
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "storex:recs",
        ttl_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_seconds <= 0:
            raise ConfigError(f"cache ttl_seconds must be > 0, got {ttl_seconds}")
        if not prefix or any(c in prefix for c in "*?[]"):
            raise ConfigError(
                f"cache prefix must be non-empty text without glob characters: {prefix!r}"
            )
        self.client = client
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisCache:
        """Connect to ``url`` (``redis://host:port/db``)."""
        import redis

        return cls(redis.Redis.from_url(url), **kwargs)

    def get(self, version: str, user: str, key: str) -> Recommendations | None:
        raw = self.client.hget(self._name(version, user), key)
        if raw is None:
            return None
        payload = json.loads(raw)
        if self._clock() - float(payload["stored"]) > self.ttl_seconds:
            self.client.hdel(self._name(version, user), key)
            return None
        return Recommendations.from_dict(payload["value"])

    def put(self, version: str, user: str, key: str, value: Recommendations) -> None:
        name = self._name(version, user)
        payload = json.dumps({"stored": self._clock(), "value": value.to_dict()})
        pipe = self.client.pipeline()
        pipe.hset(name, key, payload)
        pipe.expire(name, max(1, round(self.ttl_seconds)))
        pipe.execute()

    def drop_user(self, version: str, user: str) -> None:
        self.client.delete(self._name(version, user))

    def drop_version(self, version: str) -> None:
        self._delete_matching(f"{self.prefix}:{_glob_escape(version)}:*")

    def clear(self) -> None:
        """Delete every key under the prefix (all versions, all users)."""
        self._delete_matching(f"{self.prefix}:*")

    def _name(self, version: str, user: str) -> str:
        return f"{self.prefix}:{version}:{user}"

    def _delete_matching(self, pattern: str) -> None:
        batch: list[Any] = []
        for name in self.client.scan_iter(match=pattern, count=500):
            batch.append(name)
            if len(batch) >= 500:
                self.client.delete(*batch)
                batch.clear()
        if batch:
            self.client.delete(*batch)


def _pack(answer: Recommendations) -> _Packed:
    items = answer.items
    reasons = None
    if any(item.because for item in items):
        reasons = tuple(
            tuple((b.item_id, b.weight, b.rating, b.method) for b in item.because) for item in items
        )
    return (
        answer.user_id,
        answer.strategy,
        answer.confidence,
        answer.model_version,
        tuple(item.item_id for item in items),
        array("d", [item.score for item in items]),
        reasons,
    )


def _unpack(packed: _Packed) -> Recommendations:
    user, strategy, confidence, version, ids, scores, reasons = packed
    if reasons is None:
        items = tuple(map(ScoredItem, ids, scores))
    else:
        items = tuple(
            ScoredItem(item, score, tuple(Explanation(*b) for b in because))
            for item, score, because in zip(ids, scores, reasons, strict=True)
        )
    return Recommendations(user, items, strategy, confidence, version)  # type: ignore[arg-type]


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
