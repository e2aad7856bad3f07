"""Row-level reads and writes, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storex.errors import DataError
from storex.serve.db import (
    DuplicateError,
    Rating,
    create_rating,
    create_user,
    delete_rating,
    get_item,
    get_item_by_external,
    get_rating,
    get_user,
    get_user_by_external,
    list_items,
    list_user_ratings,
    rating_stats,
    search_items,
    update_rating,
)

Shop = dict[str, list[int]]


# ---- users -------------------------------------------------------------------------------


def test_create_and_get_user(session: Session) -> None:
    user = create_user(session, " u-7 ", age=40, gender="M", occupation="writer", zip="02139")
    session.commit()
    assert user.id is not None
    assert user.external_id == "u-7"
    assert user.created_at.tzinfo is not None
    assert user.updated_at is None
    found = get_user(session, user.id)
    assert found is not None and (found.age, found.zip) == (40, "02139")
    assert get_user_by_external(session, "u-7") is found
    assert get_user(session, user.id + 1000) is None
    assert get_user_by_external(session, "nobody") is None


def test_duplicate_external_id_raises_and_keeps_the_session_usable(session: Session) -> None:
    first = create_user(session, "alice")
    with pytest.raises(DuplicateError, match="a user with external_id 'alice' already exists"):
        create_user(session, "alice", age=3)
    second = create_user(session, "bob")
    session.commit()
    assert get_user_by_external(session, "alice") is first
    assert first.age is None
    assert second.id != first.id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"external_id": "  "}, "external_id is empty"),
        ({"external_id": "x", "age": -1}, "age must be a whole number >= 0, got -1"),
        ({"external_id": "x", "age": 2.5}, "age must be a whole number >= 0, got 2.5"),
    ],
)
def test_bad_user_values_raise_data_error(session: Session, kwargs: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        create_user(session, **kwargs)


# ---- ratings -----------------------------------------------------------------------------


def test_rating_lifecycle(session: Session, shop: Shop) -> None:
    alice, _ = shop["users"]
    toy = shop["items"][0]
    row = create_rating(session, alice, toy, 4.5)
    session.commit()
    assert row is not None and row.event == "rating" and row.updated_at is None
    assert get_rating(session, row.id) is row

    changed = update_rating(session, row.id, rating=2, event="review")
    session.commit()
    assert changed is row and (row.rating, row.event) == (2.0, "review")
    assert row.updated_at is not None and row.updated_at >= row.created_at

    assert delete_rating(session, row.id) is row
    session.commit()
    assert get_rating(session, row.id) is None
    assert delete_rating(session, row.id) is None
    assert update_rating(session, row.id, rating=3) is None


def test_rating_of_unknown_user_or_item_is_none(session: Session, shop: Shop) -> None:
    alice = shop["users"][0]
    toy = shop["items"][0]
    assert create_rating(session, 999_999, toy, 3) is None
    assert create_rating(session, alice, 999_999, 3) is None
    session.commit()
    assert session.scalars(select(Rating)).all() == []


def test_second_rating_of_the_same_item_is_duplicate(session: Session, shop: Shop) -> None:
    alice = shop["users"][0]
    toy = shop["items"][0]
    first = create_rating(session, alice, toy, 3)
    session.commit()
    assert first is not None
    message = f"user {alice} already rated item {toy} \\(rating id {first.id}\\)"
    with pytest.raises(DuplicateError, match=message):
        create_rating(session, alice, toy, 5)
    session.commit()  # the failed insert left the transaction usable
    assert [r.rating for r in session.scalars(select(Rating))] == [3.0]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0.5, "rating must be between 1 and 5, got 0.5"),
        (5.01, "rating must be between 1 and 5, got 5.01"),
        (float("nan"), "rating must be between 1 and 5, got nan"),
        ("good", "rating must be a number, got 'good'"),
    ],
)
def test_out_of_range_ratings_raise_data_error(
    session: Session, shop: Shop, value: object, message: str
) -> None:
    alice = shop["users"][0]
    toy = shop["items"][0]
    with pytest.raises(DataError, match=message) as caught:
        create_rating(session, alice, toy, value)  # type: ignore[arg-type]
    assert caught.value.column == "rating"
    row = create_rating(session, alice, toy, 1)
    assert row is not None
    with pytest.raises(DataError, match=message):
        update_rating(session, row.id, rating=value)  # type: ignore[arg-type]


def test_list_user_ratings_pages_newest_first(session: Session, shop: Shop) -> None:
    alice, bob = shop["users"]
    for item, value in zip(shop["items"], (1, 2, 3, 4), strict=True):
        create_rating(session, alice, item, value)
        session.commit()
    create_rating(session, bob, shop["items"][0], 5)
    session.commit()
    page = list_user_ratings(session, alice, limit=3)
    assert page is not None and page.total == 4
    assert [(r.rating, item) for r, item in page.rows] == [(4.0, "i4"), (3.0, "i3"), (2.0, "i2")]
    rest = list_user_ratings(session, alice, limit=3, offset=3)
    assert rest is not None and [(r.rating, item) for r, item in rest.rows] == [(1.0, "i1")]
    assert list_user_ratings(session, 999_999) is None
    with pytest.raises(DataError, match="limit must be between 1 and 1000, got 0"):
        list_user_ratings(session, alice, limit=0)


def test_deleting_a_user_deletes_their_ratings(session: Session, shop: Shop) -> None:
    alice, bob = shop["users"]
    create_rating(session, alice, shop["items"][0], 4)
    create_rating(session, bob, shop["items"][0], 2)
    session.commit()
    session.delete(get_user(session, alice))
    session.commit()
    session.expire_all()
    assert [r.user_id for r in session.scalars(select(Rating))] == [bob]


def test_rating_stats(session: Session, shop: Shop) -> None:
    empty = rating_stats(session)
    assert (empty.count, empty.mean, empty.histogram, empty.users, empty.items) == (
        0, None, {}, 0, 0,
    )  # fmt: skip
    alice, bob = shop["users"]
    i1, i2, i3, _ = shop["items"]
    for user, item, value in ((alice, i1, 5), (alice, i2, 3), (bob, i1, 3), (bob, i3, 4.5)):
        create_rating(session, user, item, value)
    session.commit()
    stats = rating_stats(session)
    assert stats.count == 4
    assert stats.mean == pytest.approx(15.5 / 4)
    assert stats.histogram == {3.0: 2, 4.5: 1, 5.0: 1}
    assert (stats.users, stats.items) == (2, 3)


# ---- items -------------------------------------------------------------------------------


def test_get_item(session: Session, shop: Shop) -> None:
    toy = get_item(session, shop["items"][0])
    assert toy is not None and toy.in_stock is True and toy.price == pytest.approx(9.99)
    assert toy.categories == ["Animation", "Comedy"]
    assert get_item_by_external(session, "i3").title == "Les Misérables"  # type: ignore[union-attr]
    assert get_item(session, 999_999) is None
    assert get_item_by_external(session, "nope") is None


def _titles(rows: list) -> list[str]:
    return [row.title for row in rows]


def test_list_items_filters_and_pages(session: Session, shop: Shop) -> None:
    everything = list_items(session)
    assert everything.total == 4 and len(everything.rows) == 4
    assert _titles(list_items(session, category="ACTION").rows) == ["Heat (1995)"]
    assert _titles(list_items(session, category="com").rows) == [
        "Toy Story (1995)",
        "100% Pure_Fun",
    ]  # "Comédie" too: non-ASCII is stored as text, not escaped
    assert _titles(list_items(session, min_price=5, max_price=10).rows) == ["Toy Story (1995)"]
    assert _titles(list_items(session, max_price=3).rows) == ["100% Pure_Fun"]
    assert _titles(list_items(session, in_stock=False).rows) == ["Heat (1995)"]
    assert list_items(session, in_stock=True).total == 3
    page = list_items(session, limit=2, offset=1)
    assert (page.total, _titles(page.rows)) == (4, ["Heat (1995)", "Les Misérables"])
    with pytest.raises(DataError, match="min_price must be a finite number >= 0, got -1"):
        list_items(session, min_price=-1)
    with pytest.raises(DataError, match="offset must be between 0 and 9223372036854775807, got -2"):
        list_items(session, offset=-2)
    with pytest.raises(DataError, match=r"offset must be between 0 and \d+, got 92233\d+"):
        list_items(session, offset=2**63)  # more than the databases can take


def test_search_items_over_titles_and_categories(session: Session, shop: Shop) -> None:
    assert _titles(search_items(session, "toy").rows) == ["Toy Story (1995)"]
    assert _titles(search_items(session, "crime").rows) == ["Heat (1995)"]
    assert _titles(search_items(session, "1995").rows) == ["Toy Story (1995)", "Heat (1995)"]
    assert _titles(search_items(session, "Misérables").rows) == ["Les Misérables"]
    assert _titles(search_items(session, "comédie").rows) == ["100% Pure_Fun"]
    # LIKE wildcards in the query are plain characters, and quotes are just text
    assert _titles(search_items(session, "100%").rows) == ["100% Pure_Fun"]
    assert search_items(session, "%").total == 1
    assert search_items(session, "_").total == 1
    assert search_items(session, "x' OR '1'='1").total == 0
    with pytest.raises(DataError, match="search text is empty"):
        search_items(session, "   ")
