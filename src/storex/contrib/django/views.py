"""``/recommend/<user_id>/``: a user's recommendations as JSON, for the block's script."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET

from storex.contrib.django.backends import RecommendationError, backend_for
from storex.contrib.django.conf import MAX_COUNT, storex_settings

log = logging.getLogger(__name__)
Lookup = Callable[[list[str]], Mapping[str, Mapping[str, Any]]]


@require_GET
def recommend(request: HttpRequest, user_id: str) -> JsonResponse:
    """Top ``n`` items for ``user_id`` (``?n=``, default ``STOREX['COUNT']``)."""
    config = storex_settings()
    given = request.GET.get("n")
    if given is None:
        n = config.count
    elif given.isdigit() and 1 <= int(given) <= MAX_COUNT:
        n = int(given)
    else:
        return _error(f"n must be a whole number from 1 to {MAX_COUNT}, got {given!r}", 400)
    try:
        answer = backend_for(config).recommend(user_id, n)
    except RecommendationError as exc:
        if exc.status >= 500:
            log.warning("recommendations for %r failed: %s", user_id, exc)
        return _error(str(exc), exc.status)
    if config.items is not None:
        _describe(answer, _lookup(config.items))
    response = JsonResponse(answer)
    response["Cache-Control"] = "private, no-store"
    return response


def _describe(answer: dict[str, Any], lookup: Lookup) -> None:
    """Fill titles, links and prices from the shop's own catalog."""
    ids = [item["id"] for item in answer["items"]]
    ids += [b["item_id"] for item in answer["items"] for b in item["because"]]
    known = lookup(list(dict.fromkeys(ids)))
    for item in answer["items"]:
        extra = known.get(item["id"]) or {}
        item.update({k: v for k, v in extra.items() if v is not None})
        for because in item["because"]:
            title = (known.get(because["item_id"]) or {}).get("title")
            if title:
                because["title"] = title


@lru_cache(maxsize=4)
def _lookup(path: str) -> Lookup:
    return import_string(path)


def _error(detail: str, status: int) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status)
    response["Cache-Control"] = "no-store"
    return response
