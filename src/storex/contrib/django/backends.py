"""Where a Django shop's recommendations come from: a StoreX service or a bundle on disk.

Both answer the same dictionary::

    {"user_id", "strategy", "model_version", "source": "service" | "bundle",
     "items": [{"id", "title", "price", "score", "because": [{"item_id", "title"}]}]}

A bundle is loaded once per process, on first use, and served by the same engine as the
StoreX service (a user it does not know gets the popular items). The service is asked over
plain HTTP with the standard library, so the app needs nothing beyond Django.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode
from urllib.request import Request, urlopen

from storex.contrib.django.conf import StorexSettings

MAX_ERROR_BODY = 2_000


class RecommendationError(Exception):
    """Why no recommendations could be given; ``status`` is the HTTP status to answer."""

    status = 503


class UnknownUserError(RecommendationError):
    status = 404


class UnavailableError(RecommendationError):
    status = 503


class Backend(Protocol):
    def recommend(self, user_id: str, n: int) -> dict[str, Any]: ...


class RemoteBackend:
    """A running StoreX service (``GET /api/recommendations/{user_id}``)."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 3.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def recommend(self, user_id: str, n: int) -> dict[str, Any]:
        query = urlencode({"n": n, "explain": "true"})
        address = f"{self.url}/api/recommendations/{quote(user_id, safe='')}?{query}"
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        try:
            with urlopen(Request(address, headers=headers), timeout=self.timeout) as response:
                payload = json.loads(response.read())
        except HTTPError as exc:
            detail = _detail(exc)
            if exc.code == 404:
                raise UnknownUserError(f"StoreX does not know user {user_id!r} ({detail})") from exc
            raise UnavailableError(
                f"the StoreX service at {self.url} answered {exc.code}: {detail}"
            ) from exc
        except (URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UnavailableError(
                f"the StoreX service at {self.url} is unavailable ({reason})"
            ) from exc
        except ValueError as exc:
            raise UnavailableError(f"the StoreX service at {self.url} sent no JSON") from exc
        return {
            "user_id": payload.get("user_id", user_id),
            "strategy": payload.get("strategy"),
            "model_version": payload.get("model_version"),
            "source": "service",
            "items": [
                {
                    "id": item["id"],
                    "title": item.get("title"),
                    "price": item.get("price"),
                    "score": item.get("score"),
                    "because": [
                        {"item_id": b["item_id"], "title": b.get("title")}
                        for b in item.get("because") or ()
                    ],
                }
                for item in payload.get("items") or ()
            ],
        }


class LocalBackend:
    """A bundle folder, or the current (else newest) version in a registry root."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._engine: Any = None
        self._lock = threading.Lock()

    def recommend(self, user_id: str, n: int) -> dict[str, Any]:
        answer = self.engine().recommend(user_id, n, explain=True)
        return {
            "user_id": answer.user_id,
            "strategy": answer.strategy,
            "model_version": answer.model_version,
            "source": "bundle",
            "items": [
                {
                    "id": item.item_id,
                    "title": None,
                    "price": None,
                    "score": item.score,
                    "because": [{"item_id": b.item_id, "title": None} for b in item.because],
                }
                for item in answer.items
            ],
        }

    def engine(self) -> Any:
        """The engine over the bundle, loaded on first use."""
        with self._lock:
            if self._engine is None:
                from storex.bundle import ModelBundle
                from storex.errors import StorexError
                from storex.serve.engine import RecommendationEngine

                try:
                    bundle = ModelBundle.load(bundle_folder(self.path))
                    self._engine = RecommendationEngine(bundle)
                except StorexError as exc:
                    raise UnavailableError(
                        f"cannot load the StoreX bundle at {self.path}: {exc}"
                    ) from exc
            return self._engine


def bundle_folder(path: Path) -> Path:
    """``path`` when it is a bundle, else the registry's current (or newest) version in it."""
    from storex.bundle import BUNDLE_FILE
    from storex.errors import MissingDataError
    from storex.serve.engine import ModelRegistry

    if (path / BUNDLE_FILE).is_file():
        return path
    registry = ModelRegistry(path)
    names = registry.names()
    if not names:
        raise MissingDataError(
            "no model bundle here; train one (`storex demo` or `storex train`) first", path=path
        )
    name = max(names, key=lambda n: registry.versions(n)[-1])
    return registry.path(registry.current(name) or registry.versions(name)[-1], name)


@lru_cache(maxsize=4)
def backend_for(config: StorexSettings) -> Backend:
    """One backend per configuration (a loaded bundle is reused by every request)."""
    if config.url is not None:
        return RemoteBackend(config.url, api_key=config.api_key, timeout=config.timeout)
    if config.bundle is None:
        raise UnavailableError("settings.STOREX names neither URL nor BUNDLE")
    return LocalBackend(config.bundle)


def _detail(error: HTTPError) -> str:
    try:
        body = error.read(MAX_ERROR_BODY)
        detail = json.loads(body).get("detail")
    except (OSError, ValueError, AttributeError):
        detail = None
    return str(detail or error.reason)
