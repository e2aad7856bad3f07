"""JSON and files the pages need beyond the API: live figures, model versions, a shopper's
ratings with item titles, the report's charts and the static assets.

They read the service state through the same dependencies as the API routes and answer
errors the same way (``{"detail": ...}`` with the API's statuses).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from storex.serve.api.deps import ReadSessionDep, ServiceDep, closes_session
from storex.serve.api.errors import NotFoundError
from storex.serve.api.lookup import find_user
from storex.serve.api.schemas import MAX_PAGE
from storex.serve.db import items_by_external, list_user_ratings
from storex.serve.web.dashboard import model_versions
from storex.serve.web.evaluation import is_report_image
from storex.serve.web.live import live_figures
from storex.serve.web.rendering import STATIC_DIR, STATIC_PREFIX

router = APIRouter(include_in_schema=False)
MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


@router.get("/web/api/live")
def live(service: ServiceDep) -> dict[str, Any]:
    """Request count, errors, latency percentiles, cache hit rate, answers per strategy."""
    holder = service.holder
    return {
        **live_figures(service.metrics),
        "model_loaded": holder is not None,
        "model_version": None if holder is None else holder.version,
    }


@router.get("/web/api/models")
def models(service: ServiceDep) -> dict[str, Any]:
    """Published versions of the served model, the registry's current one and the serving one."""
    return model_versions(service)


@router.get("/web/api/users/{user_id}/ratings")
@closes_session
def ratings_with_titles(
    user_id: str,
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """A shopper's ratings, newest first, each with its item's title."""
    user = find_user(session, user_id)
    page = list_user_ratings(session, user.id, limit=limit, offset=offset)
    if page is None:  # removed since it was found
        raise NotFoundError(f"unknown user id {user_id!r}")
    rows = page.rows
    items = items_by_external(session, [item for _, item in rows])
    return {
        "user_id": user_id,
        "total": page.total,
        "limit": limit,
        "offset": offset,
        "ratings": [
            {
                "id": rating.id,
                "item_id": item,
                "title": None if item not in items else items[item].title,
                "rating": rating.rating,
                "rated_at": (rating.updated_at or rating.created_at).isoformat(),
            }
            for rating, item in rows
        ],
    }


@router.get("/web/report/{name}")
def report_image(name: str, service: ServiceDep) -> FileResponse:
    """A chart (PNG) from the report folder of the model in service."""
    holder = service.holder
    folder = None if holder is None else holder.engine.bundle.path
    path = None if folder is None else folder / "report" / name
    if path is None or not is_report_image(name) or not path.is_file():
        raise NotFoundError(f"no report chart {name!r} for the model in service")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-cache"})


@router.get(STATIC_PREFIX + "/{name:path}")
def static(name: str) -> FileResponse:
    """The pages' stylesheet, scripts and icons, shipped inside the package."""
    root = STATIC_DIR.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file() or path.suffix not in MEDIA_TYPES:
        raise NotFoundError(f"no static file {name!r}")
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=86400"},
    )
