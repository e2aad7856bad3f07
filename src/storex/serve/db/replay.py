"""Bulk reads that bring a fresh recommendation engine up to date with the database: the
catalog, the users with a profile and the stored ratings, streamed in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storex.serve.db.models import Item, Rating, User

CHUNK = 5_000
CATALOG_COLUMNS = ("item_id", "title", "categories", "brand", "price", "year", "in_stock")


@dataclass(frozen=True)
class RatingRow:
    """A stored rating by external ids, as the engine takes it."""

    id: int
    user: str
    item: str
    rating: float
    event: str
    at: datetime


def catalog_frame(session: Session) -> pd.DataFrame:
    """The items table in the canonical items layout plus ``in_stock``, ordered by id."""
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
    frame = pd.DataFrame(rows, columns=list(CATALOG_COLUMNS))
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


def iter_user_ids(session: Session) -> Iterator[str]:
    """The external id of every user, read in chunks."""
    yield from session.scalars(select(User.external_id).execution_options(yield_per=CHUNK))


def count_items(session: Session) -> int:
    """Rows in the items table."""
    return int(session.scalar(select(func.count(Item.id))) or 0)
