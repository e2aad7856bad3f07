"""The ``STOREX`` setting of a Django project, checked once and frozen.

Keys (exactly one of ``URL`` and ``BUNDLE``):

``URL``
    Base URL of a running StoreX service (``http://host:port``).
``API_KEY``
    Sent as ``X-API-Key`` to the service (reads need none unless a proxy asks for it).
``BUNDLE``
    A bundle folder, or a registry root (``models/``) whose current or newest version is
    served in-process.
``TIMEOUT``
    Seconds to wait for the service (default 3).
``COUNT``
    Items in a block when the template does not say (default 6).
``ITEMS``
    Dotted path of ``lookup(item_ids) -> {item_id: {"title": ..., "url": ..., "price": ...}}``:
    the shop's own titles, links and prices for the recommended ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

KEYS = ("URL", "API_KEY", "BUNDLE", "TIMEOUT", "COUNT", "ITEMS")
MAX_COUNT = 100


@dataclass(frozen=True)
class StorexSettings:
    url: str | None = None
    api_key: str | None = None
    bundle: Path | None = None
    timeout: float = 3.0
    count: int = 6
    items: str | None = None


def storex_settings() -> StorexSettings:
    """The project's ``STOREX`` setting, or ImproperlyConfigured naming the key at fault."""
    raw: Any = getattr(settings, "STOREX", None)
    if raw is None:
        raise ImproperlyConfigured(
            "settings.STOREX is missing: set STOREX = {'URL': 'http://127.0.0.1:8000'} "
            "or STOREX = {'BUNDLE': 'path/to/models'}"
        )
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f"settings.STOREX must be a dict, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ImproperlyConfigured(
            f"settings.STOREX has unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}"
        )
    url, bundle = raw.get("URL"), raw.get("BUNDLE")
    if (url is None) == (bundle is None):
        raise ImproperlyConfigured(
            "settings.STOREX needs exactly one of 'URL' (a StoreX service) and 'BUNDLE' "
            "(a bundle folder or registry on disk)"
        )
    if url is not None:
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ImproperlyConfigured(
                f"settings.STOREX['URL'] must be an http(s) URL like http://127.0.0.1:8000, "
                f"got {url!r}"
            )
    timeout = _number(raw, "TIMEOUT", 3.0)
    if not timeout > 0:
        raise ImproperlyConfigured(f"settings.STOREX['TIMEOUT'] must be > 0, got {timeout!r}")
    count = raw.get("COUNT", 6)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ImproperlyConfigured(
            f"settings.STOREX['COUNT'] must be a whole number from 1 to {MAX_COUNT}, got {count!r}"
        )
    items = raw.get("ITEMS")
    if items is not None and (not isinstance(items, str) or "." not in items):
        raise ImproperlyConfigured(
            f"settings.STOREX['ITEMS'] must be a dotted path to a function, got {items!r}"
        )
    return StorexSettings(
        url=None if url is None else str(url).rstrip("/"),
        api_key=None if raw.get("API_KEY") in (None, "") else str(raw["API_KEY"]),
        bundle=None if bundle is None else Path(bundle).expanduser(),
        timeout=timeout,
        count=count,
        items=items,
    )


def _number(raw: dict[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ImproperlyConfigured(f"settings.STOREX[{key!r}] must be a number, got {value!r}")
    return float(value)
