"""Live updates shared by every process of the service through Redis pub/sub.

Each server process keeps its engine's live state in memory; the database is the truth.
When a write (a rating added, changed or deleted, a user registered, an item added or
changed) has been committed and given to the local engine, the process publishes a small
message naming *what* changed (external ids only) on one channel. Every other process
subscribed to the channel reads the current rows from the database and gives them to its
own engine, so a message says "look again", never "this is the value": applying one twice
or out of order ends in the same state, the database's.

The same mechanism serves ``storex serve --workers N`` on one machine and several machines
behind a load balancer, as long as they share the database and the Redis server.
Messages published while a process is down or disconnected are not replayed to it; its next
start reads everything from the database.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)
Kind = Literal["rating", "user", "item"]
RECONNECT_SECONDS = 1.0


@dataclass(frozen=True)
class LiveUpdate:
    """One committed change, by external ids: a rating of (``user``, ``item``), a user, or
    an item."""

    kind: Kind
    user: str | None = None
    item: str | None = None


class LiveUpdates:
    """Publish this process's changes and apply everyone else's.

    Parameters
    ----------
    client
        A ``redis.Redis`` client.
    channel
        The pub/sub channel every process of one service shares.
    """

    def __init__(self, client: Any, channel: str) -> None:
        self.client = client
        self.channel = channel
        self.origin = uuid.uuid4().hex  # this process: its own messages are skipped
        self.received = 0
        self.applied = 0
        self.errors = 0
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_url(cls, url: str, channel: str) -> LiveUpdates:
        import redis

        return cls(redis.Redis.from_url(url), channel)

    def publish(self, update: LiveUpdate) -> None:
        """Tell the other processes; a Redis outage is logged, never raised (the write is
        stored, and their next start reads it)."""
        message = json.dumps({"origin": self.origin, **asdict(update)})
        try:
            self.client.publish(self.channel, message)
        except Exception:
            self.errors += 1
            log.exception("live updates: cannot publish %s", update)

    def listen(self, apply: Callable[[LiveUpdate], None], timeout: float = 10.0) -> None:
        """Subscribe now, in a background thread; messages are applied once :meth:`ready`
        is called, so none is lost while the engine is being built (applying reads the
        database, so one that the build already saw changes nothing)."""
        self._thread = threading.Thread(
            target=self._run, args=(apply,), name="storex-live-updates", daemon=True
        )
        self._thread.start()
        if not self._subscribed.wait(timeout):
            raise ConnectionError(
                f"live updates: no subscription to {self.channel!r} after "
                f"{timeout:g} s (is Redis reachable?)"
            )

    def ready(self) -> None:
        """Start applying the messages received since :meth:`listen`."""
        self._ready.set()

    def close(self) -> None:
        self._stop.set()
        self._ready.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self, apply: Callable[[LiveUpdate], None]) -> None:
        while not self._stop.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                self._subscribed.set()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is not None:
                        self._ready.wait()
                        self._handle(message["data"], apply)
            except Exception:  # a lost connection: subscribe again
                self.errors += 1
                log.exception("live updates: subscription to %r lost", self.channel)
                time.sleep(RECONNECT_SECONDS)
            finally:
                pubsub.close()

    def _handle(self, data: bytes | str, apply: Callable[[LiveUpdate], None]) -> None:
        payload = json.loads(data)
        if payload.pop("origin", None) == self.origin:
            return
        self.received += 1
        update = LiveUpdate(**payload)
        try:
            apply(update)
            self.applied += 1
            log.debug("live updates: applied %s", update)
        except Exception:  # one bad message must not stop the others
            self.errors += 1
            log.exception("live updates: cannot apply %s", update)
