"""Read queries the API needs beyond single rows: joins by external id and aggregates.

Built with SQLAlchemy expressions only (every value a bound parameter), like the crud layer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from storex.serve.db import Item, Rating, User

CHUNK = 5_000


@dataclass(frozen=True)
class RatingRow:
    """A stored rating by external ids, as the engine takes it."""

    id: int
    user: str
    item: str
    rating: float
    event: str
    at: datetime


def items_by_external(session: Session, external_ids: Sequence[str]) -> dict[str, Item]:
    """The items among ``external_ids`` that exist, by external id."""
    found: dict[str, Item] = {}
    ids = list(dict.fromkeys(external_ids))
    for start in range(0, len(ids), 500):
        query = select(Item).where(Item.external_id.in_(ids[start : start + 500]))
        found.update((item.external_id, item) for item in session.scalars(query))
    return found


def catalog_frame(session: Session) -> pd.DataFrame:
    """The items table in the canonical items layout plus ``in_stock``, for the engine."""
    rows = session.execute(
        select(
            Item.external_id,
            Item.title,
            Item.categories,
            Item.brand,
            Item.price,
            Item.year,
            Item.in_stock,
        ).order_by(Item.id)
    ).all()
    columns = ["item_id", "title", "categories", "brand", "price", "year", "in_stock"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["categories"] = [list(c or []) for c in frame["categories"]]
    frame["price"] = pd.to_numeric(frame["price"], errors="coerce").astype("float64")
    frame["year"] = pd.to_numeric(frame["year"], errors="coerce").astype("Float64")
    frame["in_stock"] = frame["in_stock"].astype(bool)
    return frame


def iter_ratings(session: Session, user_id: int | None = None) -> Iterator[RatingRow]:
    """Every stored rating (or one user's) by external ids, oldest first, read in chunks."""
    query = (
        select(
            Rating.id,
            User.external_id,
            Item.external_id,
            Rating.rating,
            Rating.event,
            Rating.created_at,
        )
        .join(User, Rating.user_id == User.id)
        .join(Item, Rating.item_id == Item.id)
        .order_by(Rating.id)
    )
    if user_id is not None:
        query = query.where(Rating.user_id == user_id)
    last = 0
    while True:
        rows = session.execute(query.where(Rating.id > last).limit(CHUNK)).all()
        for row in rows:
            yield RatingRow(int(row[0]), row[1], row[2], float(row[3]), row[4], row[5])
        if len(rows) < CHUNK:
            return
        last = int(rows[-1][0])


def users_with_profile(session: Session) -> Iterator[User]:
    """Users with at least one demographic field, for registering them in the engine."""
    query = select(User).where(
        (User.age.is_not(None))
        | (User.gender.is_not(None))
        | (User.occupation.is_not(None))
        | (User.zip.is_not(None))
    )
    yield from session.scalars(query.execution_options(yield_per=CHUNK))


def rating_id_of(session: Session, user_id: int, item_id: int) -> int | None:
    """The id of a user's rating of an item, if any."""
    query = select(Rating.id).where(Rating.user_id == user_id, Rating.item_id == item_id)
    return session.scalar(query)


def popular_items(
    session: Session,
    n: int,
    *,
    exclude_user_id: int | None = None,
    category: str | None = None,
    min_price: float | None = None,
    max_price: float | None = None,
    in_stock_only: bool = False,
) -> list[tuple[Item, int]]:
    """The ``n`` most rated items (ties by id) passing the filters, with their counts."""
    counts = (
        select(Rating.item_id, func.count(Rating.id).label("n")).group_by(Rating.item_id).subquery()
    )
    score = func.coalesce(counts.c.n, 0)
    query = select(Item, score).outerjoin(counts, counts.c.item_id == Item.id)
    if exclude_user_id is not None:
        rated = select(Rating.item_id).where(Rating.user_id == exclude_user_id)
        query = query.where(Item.id.not_in(rated))
    if category:
        query = query.where(cast(Item.categories, Text).icontains(category, autoescape=True))
    if min_price is not None:
        query = query.where(Item.price >= min_price)
    if max_price is not None:
        query = query.where(Item.price <= max_price)
    if in_stock_only:
        query = query.where(Item.in_stock.is_(True))
    rows = session.execute(query.order_by(score.desc(), Item.id).limit(n)).all()
    return [(item, int(count)) for item, count in rows]


def user_ratings_page(
    session: Session, user_id: int, limit: int, offset: int
) -> tuple[list[tuple[Rating, str]], int]:
    """One page of a user's ratings (newest first) with each item's external id, and the total."""
    total = session.scalar(select(func.count(Rating.id)).where(Rating.user_id == user_id)) or 0
    query = (
        select(Rating, Item.external_id)
        .join(Item, Rating.item_id == Item.id)
        .where(Rating.user_id == user_id)
        .order_by(Rating.created_at.desc(), Rating.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(rating, ext) for rating, ext in session.execute(query).all()], int(total)
