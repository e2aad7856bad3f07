"""Loading a data set: counts, idempotent re-runs, all-or-nothing on bad rows, no silent drops."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from storex.data.schema import StoreData, conform_items, interactions_frame
from storex.errors import DataError
from storex.serve.db import (
    Item,
    Rating,
    User,
    get_item_by_external,
    get_user_by_external,
    init_database,
    load_store,
    make_session_factory,
    rating_stats,
)

USERS = "user_id,age,gender,occupation,zip\nu1,30,F,artist,10001\nu2,41,M,doctor,94110\n"
ITEMS = (
    "item_id,title,categories,brand,price,year\n"
    "i1,Blue Mug,Kitchen|Mugs,Acme,12.5,2020\n"
    "i2,Red Kettle,Kitchen,Acme,30,2021\n"
    "i3,Old Lamp,Home,,,\n"
)
INTERACTIONS = (
    "user_id,item_id,rating,timestamp,event\n"
    "u1,i1,4,1600000000,rating\n"
    "u1,i1,5,1600000500,rating\n"  # the same pair later: replaces the first
    "u1,i2,3,1600000100,rating\n"
    "u2,i2,0,1600000200,rating\n"  # below 1
    "u2,i3,7,1600000300,rating\n"  # above 5
    "u2,i1,,1600000400,view\n"  # implicit
    "u3,i9,2,1600000600,rating\n"  # user and item known only from interactions
)


def write_source(
    folder: Path, *, users: str = USERS, items: str = ITEMS, interactions: str = INTERACTIONS
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "users.csv").write_text(users)
    (folder / "items.csv").write_text(items)
    (folder / "interactions.csv").write_text(interactions)
    return folder


def totals(summary: dict) -> tuple[int, int, int]:
    return summary["total_users"], summary["total_items"], summary["total_ratings"]


def test_without_a_source_only_migrates(db_url: str) -> None:
    summary = init_database(db_url)
    assert summary["revision"] == "0002"
    assert summary["source"] is None
    assert totals(summary) == (0, 0, 0)


def test_load_counts_every_row_and_every_skip(db_url: str, engine: Engine, tmp_path: Path) -> None:
    source = write_source(tmp_path / "shop")
    summary = init_database(db_url, source=source, with_history=True)
    assert {k: v for k, v in summary.items() if k not in ("revision", "source")} == {
        "users": 3,
        "items": 4,
        "ratings": 3,
        "users_from_interactions": 1,
        "items_from_interactions": 1,
        "ratings_skipped_missing": 1,
        "ratings_skipped_out_of_range": 2,
        "ratings_duplicates_merged": 1,
        "read_issues": {},
        "total_users": 3,
        "total_items": 4,
        "total_ratings": 3,
    }
    with make_session_factory(engine)() as session:
        u1 = get_user_by_external(session, "u1")
        assert u1 is not None and (u1.age, u1.gender, u1.occupation, u1.zip) == (
            30, "F", "artist", "10001",
        )  # fmt: skip
        mug = get_item_by_external(session, "i1")
        assert mug is not None
        assert (mug.title, mug.categories, mug.brand, mug.price, mug.year, mug.in_stock) == (
            "Blue Mug", ["Kitchen", "Mugs"], "Acme", 12.5, 2020, True,
        )  # fmt: skip
        bare = get_item_by_external(session, "i9")
        assert bare is not None and (bare.title, bare.categories) == (None, [])
        latest = session.scalars(select(Rating).where(Rating.item_id == mug.id)).one()
        assert latest.rating == 5.0
        assert latest.created_at == datetime.fromtimestamp(1600000500, UTC)


def test_loading_twice_changes_nothing(db_url: str, engine: Engine, tmp_path: Path) -> None:
    source = write_source(tmp_path / "shop")
    first = init_database(db_url, source=source, with_history=True)
    factory = make_session_factory(engine)
    with factory() as session:
        before = session.execute(select(Rating.id, Rating.rating, Rating.updated_at)).all()
    second = init_database(db_url, source=source, with_history=True)
    assert totals(second) == totals(first) == (3, 4, 3)
    with factory() as session:
        after = session.execute(select(Rating.id, Rating.rating, Rating.updated_at)).all()
        assert sorted(after) == sorted(before)
        assert session.scalars(select(User.updated_at)).all() == [None, None, None]


def test_reload_updates_values_but_keeps_stock_and_profiles(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    init_database(db_url, source=write_source(tmp_path / "v1"), with_history=True)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        get_item_by_external(session, "i2").in_stock = False  # type: ignore[union-attr]
    changed = write_source(
        tmp_path / "v2",
        users="user_id,age\nu2,42\n",
        items="item_id,title,price\ni2,Red Kettle XL,35.99\n",
        interactions="user_id,item_id,rating,timestamp\nu1,i2,1,1700000000\nu1,i1,5,1600000500\n",
    )
    summary = init_database(db_url, source=changed, with_history=True)
    assert (summary["users_from_interactions"], summary["items_from_interactions"]) == (1, 1)
    assert totals(summary) == (3, 4, 3)
    with factory() as session:
        kettle = get_item_by_external(session, "i2")
        assert kettle is not None
        assert (kettle.title, kettle.price, kettle.in_stock) == ("Red Kettle XL", 35.99, False)
        u1 = get_user_by_external(session, "u1")  # only in the new interactions: kept whole
        assert u1 is not None and (u1.age, u1.occupation, u1.updated_at) == (30, "artist", None)
        u2 = get_user_by_external(session, "u2")
        assert u2 is not None and u2.age == 42 and u2.updated_at is not None
        ratings = dict(
            session.execute(
                select(Item.external_id, Rating.rating).join(Item).where(Rating.user_id == u1.id)
            ).all()
        )
        assert ratings == {"i1": 5.0, "i2": 1.0}


@pytest.mark.parametrize(
    ("files", "message", "column"),
    [
        (
            {"items": ITEMS + "i4,Bad Pan,Kitchen,Acme,-3,2020\n"},
            "items table row 4 \\(item_id 'i4'\\): price -3.0 is not a finite number >= 0",
            "price",
        ),
        (
            {"items": ITEMS + ",Nameless,Kitchen,Acme,3,2020\n"},
            "items table row 4: item_id is missing \\(1 row\\(s\\) lack it\\)",
            "item_id",
        ),
        (
            {"users": USERS + "u4,12.5,F,student,00001\n"},
            "users table row 3 \\(user_id 'u4'\\): age 12.5 is not a whole number >= 0",
            "age",
        ),
    ],
)
def test_bad_rows_fail_clearly_and_leave_the_database_unchanged(
    db_url: str, engine: Engine, tmp_path: Path, files: dict, message: str, column: str
) -> None:
    init_database(db_url, source=write_source(tmp_path / "good"), with_history=True)
    with make_session_factory(engine)() as session:
        before = session.execute(select(User.external_id, User.age)).all()
    # new users come first in the load, so they are written before the bad row is met
    users = files.get("users", USERS + "u5,50,M,retired,55555\n")
    bad = write_source(
        tmp_path / "bad",
        users=users,
        items=files.get("items", ITEMS),
        interactions="user_id,item_id,rating,timestamp\nu5,i1,2,1\n",
    )
    with pytest.raises(DataError, match=message) as caught:
        init_database(db_url, source=bad, with_history=True)
    assert caught.value.path == str(bad)
    assert caught.value.column == column
    assert str(caught.value).startswith(f"{bad}, column {column!r}: ")
    summary = init_database(db_url)
    assert totals(summary) == (3, 4, 3)
    with make_session_factory(engine)() as session:
        assert session.execute(select(User.external_id, User.age)).all() == before


def test_duplicate_ids_in_a_table_are_refused(engine: Engine) -> None:
    items = pd.DataFrame({"item_id": ["a", "b", "a"], "title": ["x", "y", "z"]})
    data = StoreData(
        name="dup",
        interactions=interactions_frame(["u"], ["a"], rating=[3.0]),
        items=conform_items(items),
    )
    failure = pytest.raises(DataError, match="items table rows 1 and 3 both have item_id 'a'")
    with failure, engine.begin() as connection:
        load_store(connection, data, with_history=True)
    with engine.connect() as connection:
        assert connection.execute(select(User.external_id)).all() == []


def test_implicit_sessions_load_ids_and_count_every_view(db_url: str, real_dataset) -> None:
    summary = init_database(db_url, source=real_dataset("diginetica-sample"), with_history=True)
    assert summary["ratings"] == 0
    assert summary["ratings_skipped_missing"] == 12391
    assert summary["ratings_skipped_out_of_range"] == 0
    assert summary["items"] == summary["items_from_interactions"] == 7139
    assert totals(summary) == (summary["users"], 7139, 0)


@pytest.mark.realdata
def test_movielens_100k_with_history(db_url: str, engine: Engine, real_dataset) -> None:
    summary = init_database(db_url, source=real_dataset("ml-100k"), with_history=True)
    assert totals(summary) == (943, 1682, 100_000)
    assert summary["users_from_interactions"] == summary["items_from_interactions"] == 0
    assert summary["ratings_skipped_missing"] == summary["ratings_skipped_out_of_range"] == 0
    with make_session_factory(engine)() as session:
        stats = rating_stats(session)
        assert stats.histogram == {1.0: 6110, 2.0: 11370, 3.0: 27145, 4.0: 34174, 5.0: 21201}
        assert (stats.users, stats.items) == (943, 1682)
        les = get_item_by_external(session, "543")
        assert les is not None and les.title is not None and "Misérables" in les.title
        first = session.scalar(select(Rating.created_at).order_by(Rating.created_at))
        assert first is not None and first.date().isoformat() == "1997-09-20"


@pytest.mark.realdata
def test_movielens_catalog_reload_is_idempotent(db_url: str, real_dataset) -> None:
    source = real_dataset("ml-100k")
    first = init_database(db_url, source=source)
    second = init_database(db_url, source=source)
    assert totals(first) == totals(second) == (943, 1682, 0)
    assert second["users"] == 943 and second["items"] == 1682
