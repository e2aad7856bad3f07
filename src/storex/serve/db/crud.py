"""Reads and writes of single rows, for the API handlers.

Every function takes the session it works in and never commits: the caller decides the
transaction. "Not found" is ``None``; a repeated unique key is :class:`DuplicateError`; a value
outside what the schema allows is :class:`~storex.errors.DataError` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, Text, cast, distinct, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storex.errors import DataError
from storex.serve.db.errors import DuplicateError
from storex.serve.db.models import MAX_INTEGER, RATING_MAX, RATING_MIN, Item, Rating, User

MAX_PAGE = 1000
IN_CHUNK = 500  # ids per IN (...) list, well under every database's parameter limit
MAX_PRICE = 9_999_999_999.99  # what the price column, NUMERIC(12, 2), holds
ITEM_FIELDS = ("title", "year", "categories", "url", "brand", "price", "in_stock")
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows and how many match in all."""

    rows: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class RatingStats:
    """What the ratings table holds: ``histogram`` maps each rating value to its count."""

    count: int
    mean: float | None
    histogram: dict[float, int]
    users: int
    items: int


# ---- users -------------------------------------------------------------------------------


def create_user(
    session: Session,
    external_id: str,
    *,
    age: int | None = None,
    gender: str | None = None,
    occupation: str | None = None,
    zip: str | None = None,
) -> User:
    """Add a user; :class:`DuplicateError` when ``external_id`` is taken."""
    external_id = _external_id(external_id)
    if age is not None and (isinstance(age, bool) or not isinstance(age, int) or age < 0):
        raise DataError(f"age must be a whole number >= 0, got {age!r}", column="age")
    user = User(external_id=external_id, age=age, gender=gender, occupation=occupation, zip=zip)
    _insert_unique(
        session,
        user,
        lambda: get_user_by_external(session, external_id),
        f"a user with external_id {external_id!r} already exists",
    )
    return user


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_external(session: Session, external_id: str) -> User | None:
    return session.scalars(select(User).where(User.external_id == external_id)).one_or_none()


def list_user_ratings(
    session: Session, user_id: int, *, limit: int = 100, offset: int = 0
) -> Page[tuple[Rating, str]] | None:
    """A user's ratings with each item's external id, newest first; None for an unknown user."""
    if get_user(session, user_id) is None:
        return None
    query = (
        select(Rating, Item.external_id)
        .join(Item, Rating.item_id == Item.id)
        .where(Rating.user_id == user_id)
    )
    order = (Rating.created_at.desc(), Rating.id.desc())
    page = _page(session, query, order, limit, offset, scalars=False)
    return Page([(rating, item) for rating, item in page.rows], page.total, limit, offset)


# ---- ratings -----------------------------------------------------------------------------


def create_rating(
    session: Session, user_id: int, item_id: int, rating: float, *, event: str = "rating"
) -> Rating | None:
    """Record a user's rating of an item.

    Returns None when the user or the item does not exist; :class:`DuplicateError` when the
    user already rated the item (change it with :func:`update_rating`).
    """
    value = _rating_value(rating)
    if get_user(session, user_id) is None or get_item(session, item_id) is None:
        return None
    row = Rating(user_id=user_id, item_id=item_id, rating=value, event=_event(event))
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        existing = _rating_of(session, user_id, item_id)
        if existing is not None:
            raise DuplicateError(
                f"user {user_id} already rated item {item_id} (rating id {existing.id})"
            ) from exc
        if get_user(session, user_id) is None or get_item(session, item_id) is None:
            return None  # deleted by another transaction meanwhile
        raise
    return row


def get_rating(session: Session, rating_id: int) -> Rating | None:
    return session.get(Rating, rating_id)


def rating_id_of(session: Session, user_id: int, item_id: int) -> int | None:
    """The id of a user's rating of an item, if any."""
    query = select(Rating.id).where(Rating.user_id == user_id, Rating.item_id == item_id)
    return session.scalar(query)


def update_rating(
    session: Session, rating_id: int, *, rating: float | None = None, event: str | None = None
) -> Rating | None:
    """Change the value and/or event of a rating; None when it does not exist."""
    row = get_rating(session, rating_id)
    if row is None:
        return None
    if rating is not None:
        row.rating = _rating_value(rating)
    if event is not None:
        row.event = _event(event)
    session.flush()
    return row


def delete_rating(session: Session, rating_id: int) -> Rating | None:
    """Remove a rating and return it; None when it does not exist."""
    row = get_rating(session, rating_id)
    if row is None:
        return None
    session.delete(row)
    session.flush()
    return row


def rating_stats(session: Session) -> RatingStats:
    """Counts, mean and the distribution of rating values, computed in the database."""
    count, mean, users, items = session.execute(
        select(
            func.count(Rating.id),
            func.avg(Rating.rating),
            func.count(distinct(Rating.user_id)),
            func.count(distinct(Rating.item_id)),
        )
    ).one()
    histogram = {
        float(value): int(n)
        for value, n in session.execute(
            select(Rating.rating, func.count()).group_by(Rating.rating).order_by(Rating.rating)
        )
    }
    return RatingStats(
        count=int(count),
        mean=None if mean is None else float(mean),
        histogram=histogram,
        users=int(users),
        items=int(items),
    )


# ---- items -------------------------------------------------------------------------------


def get_item(session: Session, item_id: int) -> Item | None:
    return session.get(Item, item_id)


def get_item_by_external(session: Session, external_id: str) -> Item | None:
    return session.scalars(select(Item).where(Item.external_id == external_id)).one_or_none()


def items_by_external(session: Session, external_ids: Sequence[str]) -> dict[str, Item]:
    """The items among ``external_ids`` that exist, by external id."""
    found: dict[str, Item] = {}
    ids = list(dict.fromkeys(external_ids))
    for start in range(0, len(ids), IN_CHUNK):
        query = select(Item).where(Item.external_id.in_(ids[start : start + IN_CHUNK]))
        found.update((item.external_id, item) for item in session.scalars(query))
    return found


def create_item(session: Session, external_id: str, **metadata: Any) -> Item:
    """Add an item with the given :data:`ITEM_FIELDS`; :class:`DuplicateError` when
    ``external_id`` is taken."""
    external_id = _external_id(external_id)
    item = Item(external_id=external_id, **_item_values(metadata))
    _insert_unique(
        session,
        item,
        lambda: get_item_by_external(session, external_id),
        f"an item with id {external_id!r} already exists",
    )
    return item


def update_item(session: Session, external_id: str, **changes: Any) -> Item | None:
    """Set the given :data:`ITEM_FIELDS` of an item, the others unchanged; None when it does
    not exist."""
    values = _item_values(changes)
    item = get_item_by_external(session, external_id)
    if item is None:
        return None
    for name, value in values.items():
        setattr(item, name, value)
    session.flush()
    return item


def popular_items(
    session: Session,
    n: int,
    *,
    exclude_user_id: int | None = None,
    category: str | None = None,
    min_price: float | None = None,
    max_price: float | None = None,
    in_stock_only: bool = False,
    allowed_items: Sequence[str] | None = None,
) -> list[tuple[Item, int]]:
    """The ``n`` most rated items (ties by id) passing the filters, with their counts.

    ``exclude_user_id`` leaves out the items that user rated; the filters work as in
    :func:`list_items`; ``allowed_items`` (external ids) keeps only those items, ids no
    item has are ignored.
    """
    counts = (
        select(Rating.item_id, func.count(Rating.id).label("n")).group_by(Rating.item_id).subquery()
    )
    score = func.coalesce(counts.c.n, 0)
    query = select(Item, score).outerjoin(counts, counts.c.item_id == Item.id)
    if exclude_user_id is not None:
        rated = select(Rating.item_id).where(Rating.user_id == exclude_user_id)
        query = query.where(Item.id.not_in(rated))
    if category:
        query = query.where(_categories_text().icontains(category, autoescape=True))
    if min_price is not None:
        query = query.where(Item.price >= _price(min_price, "min_price"))
    if max_price is not None:
        query = query.where(Item.price <= _price(max_price, "max_price"))
    if in_stock_only:
        query = query.where(Item.in_stock.is_(True))
    query = query.order_by(score.desc(), Item.id).limit(n)
    if allowed_items is None:
        rows = session.execute(query).all()
    else:  # the best n of each chunk of ids hold the best n of all
        ids = list(dict.fromkeys(allowed_items))
        rows = []
        for start in range(0, len(ids), IN_CHUNK):
            chunk = Item.external_id.in_(ids[start : start + IN_CHUNK])
            rows.extend(session.execute(query.where(chunk)).all())
        rows = sorted(rows, key=lambda row: (-row[1], row[0].id))[:n]
    return [(item, int(count)) for item, count in rows]


def list_items(
    session: Session,
    *,
    category: str | None = None,
    min_price: float | None = None,
    max_price: float | None = None,
    in_stock: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[Item]:
    """Items by id, filtered by a category substring (any case), a price range and stock.

    A price filter leaves out items without a price.
    """
    query = select(Item)
    if category:
        query = query.where(_categories_text().icontains(category, autoescape=True))
    if min_price is not None:
        query = query.where(Item.price >= _price(min_price, "min_price"))
    if max_price is not None:
        query = query.where(Item.price <= _price(max_price, "max_price"))
    if in_stock is not None:
        query = query.where(Item.in_stock.is_(in_stock))
    return _page(session, query, (Item.id,), limit, offset)


def search_items(session: Session, q: str, *, limit: int = 20, offset: int = 0) -> Page[Item]:
    """Items whose title or categories contain ``q``, ignoring case; ``%`` and ``_`` are literal.

    SQLite folds only ASCII letters, so there "É" and "é" differ; PostgreSQL folds all.
    """
    text = q.strip()
    if not text:
        raise DataError("search text is empty", column="q")
    match = or_(
        Item.title.icontains(text, autoescape=True),
        _categories_text().icontains(text, autoescape=True),
    )
    return _page(session, select(Item).where(match), (Item.id,), limit, offset)


# ---- helpers -----------------------------------------------------------------------------


def ping(session: Session) -> None:
    """A round trip to the database; raises when it cannot be reached."""
    session.execute(select(1))


def _page(
    session: Session,
    query: Select[*tuple[Any, ...]],
    order: Sequence[Any],
    limit: int,
    offset: int,
    *,
    scalars: bool = True,
) -> Page[Any]:
    if not 1 <= limit <= MAX_PAGE:
        raise DataError(f"limit must be between 1 and {MAX_PAGE}, got {limit}", column="limit")
    if not 0 <= offset <= MAX_INTEGER:
        raise DataError(
            f"offset must be between 0 and {MAX_INTEGER}, got {offset}", column="offset"
        )
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    ordered = query.order_by(*order).limit(limit).offset(offset)
    rows = session.scalars(ordered).all() if scalars else session.execute(ordered).all()
    return Page(rows=list(rows), total=int(total or 0), limit=limit, offset=offset)


def _categories_text() -> ColumnElement[str]:
    """The JSON list as its text, so one substring match works on SQLite and PostgreSQL."""
    return cast(Item.categories, Text)


def _rating_of(session: Session, user_id: int, item_id: int) -> Rating | None:
    query = select(Rating).where(Rating.user_id == user_id, Rating.item_id == item_id)
    return session.scalars(query).one_or_none()


def _rating_value(rating: float) -> float:
    try:
        value = float(rating)
    except (TypeError, ValueError):
        raise DataError(f"rating must be a number, got {rating!r}", column="rating") from None
    if not (math.isfinite(value) and RATING_MIN <= value <= RATING_MAX):
        raise DataError(
            f"rating must be between {RATING_MIN:g} and {RATING_MAX:g}, got {rating!r}",
            column="rating",
        )
    return value


def _event(event: str) -> str:
    text = str(event).strip()
    if not text:
        raise DataError("event is empty", column="event")
    return text


def _external_id(external_id: str) -> str:
    text = str(external_id).strip()
    if not text:
        raise DataError("external_id is empty", column="external_id")
    return text


def _item_values(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked against what the items table holds, or a DataError naming the field."""
    unknown = sorted(set(values) - set(ITEM_FIELDS))
    if unknown:
        raise DataError(f"items have no field {unknown[0]!r}", column=unknown[0])
    checked = dict(values)
    if checked.get("price") is not None:
        price = _price(checked["price"], "price")
        if price > MAX_PRICE:
            raise DataError(f"price must be at most {MAX_PRICE:.2f}, got {price!r}", column="price")
        checked["price"] = price
    if "categories" in checked:
        categories = checked["categories"]
        if isinstance(categories, str) or not all(isinstance(c, str) for c in categories):
            raise DataError("categories must be a list of texts", column="categories")
        checked["categories"] = list(categories)
    if "in_stock" in checked and not isinstance(checked["in_stock"], bool):
        raise DataError(
            f"in_stock must be true or false, got {checked['in_stock']!r}", column="in_stock"
        )
    return checked


def _price(value: float, name: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise DataError(f"{name} must be a finite number >= 0, got {value!r}", column=name)
    return float(value)


def _insert_unique(
    session: Session, row: object, existing: Callable[[], object | None], taken: str
) -> None:
    """Add ``row`` in a savepoint; a unique violation becomes :class:`DuplicateError` with
    the message ``taken`` when ``existing`` finds the holder of the key (other integrity
    errors, such as a broken foreign key, propagate)."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        if existing() is not None:
            raise DuplicateError(taken) from exc
        raise
