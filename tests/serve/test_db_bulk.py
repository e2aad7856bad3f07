"""Bulk loading keeps every row: counts and spot-checked values after a load of a generated
shop, on SQLite (batched executemany) and PostgreSQL (COPY then upsert)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select

from storex.data.schema import StoreData, conform_items, interactions_frame
from storex.errors import DataError
from storex.serve.db import Item, Rating, User, load_store, make_session_factory
from storex.serve.db.bulk import table_counts

USERS, ITEMS, RATINGS = 300, 500, 20_000


def generated_shop(seed: int = 7) -> StoreData:
    """Distinct (user, item) pairs with ratings 1..5, items with text, prices and categories."""
    rng = np.random.default_rng(seed)
    pairs = rng.choice(USERS * ITEMS, size=RATINGS, replace=False)
    inter = interactions_frame(
        [f"u{p // ITEMS}" for p in pairs],
        [f"i{p % ITEMS}" for p in pairs],
        rating=rng.integers(1, 6, RATINGS).astype(float),
        timestamp=1.6e9 + np.arange(RATINGS) * 61.5,
        event="rating",
    )
    items = conform_items(
        pd.DataFrame(
            {
                "item_id": [f"i{i}" for i in range(ITEMS)],
                "title": [f"Article n°{i}\tsoft" for i in range(ITEMS)],
                "categories": [["Küche", f"c{i % 7}"] for i in range(ITEMS)],
                "price": [round(1 + i * 0.37, 2) for i in range(ITEMS)],
            }
        )
    )
    return StoreData(name="generated", interactions=inter, items=items)


def test_every_row_is_kept_with_its_values(engine: Engine) -> None:
    data = generated_shop()
    with engine.begin() as connection:
        counts = load_store(connection, data, with_history=True)
        assert table_counts(connection) == {"users": USERS, "items": ITEMS, "ratings": RATINGS}
    assert counts["ratings"] == RATINGS
    inter = data.interactions
    with make_session_factory(engine)() as session:
        for row in (0, RATINGS // 2, RATINGS - 1):
            user, item = inter["user_id"].iloc[row], inter["item_id"].iloc[row]
            stored = session.execute(
                select(Rating)
                .join(User, Rating.user_id == User.id)
                .join(Item, Rating.item_id == Item.id)
                .where(User.external_id == user, Item.external_id == item)
            ).scalar_one()
            assert stored.rating == inter["rating"].iloc[row]
            expected = datetime.fromtimestamp(float(inter["timestamp"].iloc[row]), UTC)
            assert stored.created_at == expected
        item = session.scalars(select(Item).where(Item.external_id == "i321")).one()
        assert (item.title, item.categories, item.price) == (
            "Article n°321\tsoft",
            ["Küche", "c6"],
            round(1 + 321 * 0.37, 2),
        )


def test_a_refused_row_leaves_nothing_written(engine: Engine) -> None:
    data = generated_shop()
    bad = data.interactions.copy()
    bad.loc[bad.index[-1], "event"] = "bad\x00event"
    # users and items are written before the ratings' check fails: the rollback takes them
    failure = pytest.raises(DataError, match=r"interactions table row \d+: event holds a NUL")
    with failure, engine.begin() as connection:
        load_store(
            connection,
            StoreData(name="bad", interactions=bad, items=data.items),
            with_history=True,
        )
    with engine.connect() as connection:
        assert table_counts(connection) == {"users": 0, "items": 0, "ratings": 0}
