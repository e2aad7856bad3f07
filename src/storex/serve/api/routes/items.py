"""The catalog: list with filters, search, one item, and items similar to it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from storex.errors import DataError
from storex.serve.api.deps import HolderDep, Offset, ReadSessionDep, ServiceDep, closes_session
from storex.serve.api.lookup import find_item
from storex.serve.api.schemas import MAX_PAGE, ItemOut, ItemPage, SimilarItem, SimilarItems
from storex.serve.db import list_items, search_items

router = APIRouter(prefix="/api/items", tags=["items"])


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
