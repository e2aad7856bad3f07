"""The catalog: add and change items, list with filters, search, one item, and items
similar to it.

An added or changed item is stored first (committed), then put in the engine's catalog, so
filters, search and answers show it at once; a restart reads it back from the database.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Response

from storex.errors import DataError
from storex.serve.api.deps import (
    HolderDep,
    Offset,
    ReadSessionDep,
    ServiceDep,
    SessionDep,
    WriteKey,
    closes_session,
)
from storex.serve.api.errors import NotFoundError
from storex.serve.api.lookup import find_item
from storex.serve.api.schemas import (
    MAX_PAGE,
    ItemCreate,
    ItemOut,
    ItemPage,
    ItemStored,
    ItemUpdate,
    SimilarItem,
    SimilarItems,
)
from storex.serve.api.service import Service
from storex.serve.db import Item, list_items, search_items
from storex.serve.db.crud import create_item, update_item
from storex.serve.live import LiveUpdate

router = APIRouter(prefix="/api/items", tags=["items"])
log = logging.getLogger(__name__)


@router.post("", status_code=201, response_model=ItemStored, dependencies=[WriteKey])
@closes_session
def add_item(
    body: ItemCreate, session: SessionDep, service: ServiceDep, response: Response
) -> ItemStored:
    """Store a new item (409 if the id exists) and put it in the catalog at once."""
    item = create_item(session, body.id, **body.metadata())
    session.commit()
    session.close()
    response.headers["Location"] = f"/api/items/{item.external_id}"
    return ItemStored.of_stored(item, _tell_engine(service, item))


@router.put("/{item_id}", response_model=ItemStored, dependencies=[WriteKey])
@closes_session
def change_item(
    item_id: str, body: ItemUpdate, session: SessionDep, service: ServiceDep
) -> ItemStored:
    """Change the fields given (price, stock, ...); the others keep their value."""
    item = update_item(session, item_id, **body.changes())
    if item is None:
        raise NotFoundError(f"unknown item id {item_id!r}")
    session.commit()
    session.close()
    return ItemStored.of_stored(item, _tell_engine(service, item))


@router.get("", response_model=ItemPage)
@closes_session
def catalog(
    session: ReadSessionDep,
    category: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    min_price: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    max_price: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    in_stock: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    offset: Offset = 0,
) -> ItemPage:
    """Items by id; ``in_stock`` true or false keeps only items in or out of stock."""
    if min_price is not None and max_price is not None and min_price > max_price:
        raise DataError(
            f"min_price {min_price:g} is above max_price {max_price:g}", column="min_price"
        )
    page = list_items(
        session,
        category=category,
        min_price=min_price,
        max_price=max_price,
        in_stock=in_stock,
        limit=limit,
        offset=offset,
    )
    return ItemPage(
        items=[ItemOut.of(i) for i in page.rows], total=page.total, limit=limit, offset=offset
    )


@router.get("/search", response_model=ItemPage)
@closes_session
def search(
    session: ReadSessionDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Text in title/category")],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    offset: Offset = 0,
) -> ItemPage:
    page = search_items(session, q, limit=limit, offset=offset)
    return ItemPage(
        items=[ItemOut.of(i) for i in page.rows], total=page.total, limit=limit, offset=offset
    )


@router.get("/{item_id}", response_model=ItemOut)
@closes_session
def read_item(item_id: str, session: ReadSessionDep) -> ItemOut:
    return ItemOut.of(find_item(session, item_id))


@router.get("/{item_id}/similar", response_model=SimilarItems)
@closes_session
def similar(
    item_id: str,
    session: ReadSessionDep,
    service: ServiceDep,
    holder: HolderDep,
    n: Annotated[int, Query(ge=1, le=100)] = 10,
) -> SimilarItems:
    """Items the model relates most to this one."""
    find_item(session, item_id)
    session.close()  # give the connection back while the engine works
    engine = holder.engine
    found = engine.similar_items(item_id, n)
    cards = service.describe([s.item_id for s in found])
    return SimilarItems(
        item_id=item_id,
        model_version=engine.version,
        items=[
            SimilarItem(
                id=s.item_id,
                title=cards[s.item_id].title if s.item_id in cards else None,
                score=s.score,
            )
            for s in found
        ],
    )


def _tell_engine(service: Service, item: Item) -> bool:
    """Whether the item can be recommended; False when the engine did not take it. The
    service's other processes are told either way."""
    try:
        return service.item_stored(item)
    except Exception:  # stored is what counts; a restart reads it back
        service.metrics.engine_sync_errors.inc()
        log.exception("engine did not take item %r", item.external_id)
        return False
    finally:
        service.announce(LiveUpdate("item", item=item.external_id))
