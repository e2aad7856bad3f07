"""The storefront's pages and the dashboard, rendered on the server from the service state.

Who is shopping is kept in the browser (the storefront script), so these pages hold only
public data: the catalog, an item with its similar items, the model's facts. Per-shopper
parts (the carousel, stars, the profile) are filled by the script from the API.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Any, ParamSpec, cast

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from storex.errors import StorexError
from storex.serve.api.deps import ReadSessionDep, ServiceDep, closes_session
from storex.serve.api.errors import status_of
from storex.serve.api.schemas import ItemOut
from storex.serve.api.service import Service
from storex.serve.db import (
    count_items,
    get_item_by_external,
    items_by_external,
    list_items,
    popular_items,
    search_items,
)
from storex.serve.engine import UnknownIdError
from storex.serve.web.dashboard import model_view
from storex.serve.web.rendering import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
P = ParamSpec("P")

PAGE_SIZE = 24
POPULAR = 8
SIMILAR = 8
MAX_QUERY = 200


def html_errors(handler: Callable[P, Response]) -> Callable[P, Response]:
    """A StoreX or database error becomes an HTML error page with the API's status."""

    @functools.wraps(handler)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return handler(*args, **kwargs)
        except (StorexError, OperationalError, InterfaceError) as exc:
            return error_page(cast(Request, kwargs["request"]), exc)

    return wrapper


def error_page(request: Request, exc: BaseException) -> Response:
    if isinstance(exc, (OperationalError, InterfaceError)):
        status, message = 503, "The store's database is unavailable. Try again in a moment."
        log.warning("%s: database unavailable: %s", request.url.path, exc)
    else:
        status, message = status_of(exc), str(exc)
    title = "Service unavailable" if status == 503 else "Something went wrong"
    return render(request, "error.html", {"title": title, "message": message}, status)


@router.get("/")
@html_errors
@closes_session
def home(request: Request, session: ReadSessionDep) -> Response:
    """Recommendations for the shopper (filled by the script), popular items for everyone."""
    popular = [ItemOut.of(item) for item, _ in popular_items(session, POPULAR)]
    count = count_items(session)
    return render(
        request,
        "home.html",
        {"popular": popular, "catalog_size": count, "welcome": "welcome" in request.query_params},
    )


@router.get("/register")
@html_errors
def register(request: Request, service: ServiceDep) -> Response:
    """Registration with demographics (suggested occupations: those the model knows)."""
    encoder = None if service.holder is None else service.holder.engine.user_encoder
    known = getattr(getattr(encoder, "occupation_", None), "levels", ())
    return render(request, "register.html", {"occupations": sorted(known)})


@router.get("/catalog")
@html_errors
@closes_session
def catalog(
    request: Request,
    session: ReadSessionDep,
    q: str = "",
    category: str = "",
    page: str = "1",
) -> Response:
    """Browse by category or search titles and categories, a page at a time."""
    q, category = q.strip(), category.strip()
    number = int(page) if page.isdigit() and int(page) > 0 else 1
    problem = None
    if len(q) > MAX_QUERY or len(category) > MAX_QUERY:
        problem = f"Search text is too long: at most {MAX_QUERY} characters."
        q, category = q[:MAX_QUERY], category[:MAX_QUERY]
    offset = (number - 1) * PAGE_SIZE
    if q:
        found = search_items(session, q, limit=PAGE_SIZE, offset=offset)
    else:
        found = list_items(session, category=category or None, limit=PAGE_SIZE, offset=offset)
    pages = max(1, math.ceil(found.total / PAGE_SIZE))
    return render(
        request,
        "catalog.html",
        {
            "items": [ItemOut.of(item) for item in found.rows],
            "total": found.total,
            "q": q,
            "category": "" if q else category,
            "page": number,
            "pages": pages,
            "problem": problem,
        },
    )


@router.get("/items/{item_id}")
@html_errors
@closes_session
def item_page(
    request: Request, item_id: str, session: ReadSessionDep, service: ServiceDep
) -> Response:
    """An item's details, its stars and the items the model relates most to it."""
    row = get_item_by_external(session, item_id)
    if row is None:
        message = f"Unknown item {item_id!r}: it is not in this store's catalog."
        return render(request, "error.html", {"title": "Item not found", "message": message}, 404)
    item = ItemOut.of(row)
    session.close()  # free the connection while the engine works
    similar, note = _similar(service, session, item_id)
    return render(request, "item.html", {"item": item, "similar": similar, "similar_note": note})


@router.get("/profile")
@html_errors
def profile(request: Request) -> Response:
    """The shopper's details and editable rating history (filled by the script)."""
    return render(request, "profile.html", {})


@router.get("/dashboard")
@html_errors
@closes_session
def dashboard(request: Request, session: ReadSessionDep, service: ServiceDep) -> Response:
    """The model in service, its evaluation and curves, examples, live figures, versions."""
    view = model_view(service, session)
    return render(request, "dashboard.html", {"view": view})


def _similar(
    service: Service, session: Session, item_id: str
) -> tuple[list[dict[str, Any]], str | None]:
    holder = service.holder
    if holder is None:
        return [], "Similar items need a trained model, and none is loaded yet."
    try:
        found = holder.engine.similar_items(item_id, SIMILAR)
    except UnknownIdError:
        return [], "This item is newer than the model: similar items come with the next training."
    rows = items_by_external(session, [s.item_id for s in found])
    similar = [
        {"id": s.item_id, "item": None if s.item_id not in rows else ItemOut.of(rows[s.item_id])}
        for s in found
    ]
    return similar, None if similar else "The model relates no other item to this one."
