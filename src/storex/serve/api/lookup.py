"""Rows by the ids in URLs and bodies, or a 404 naming the id."""

from __future__ import annotations

from sqlalchemy.orm import Session

from storex.serve.api.errors import NotFoundError
from storex.serve.db import (
    Item,
    Rating,
    User,
    get_item_by_external,
    get_rating,
    get_user_by_external,
)


def find_user(session: Session, user_id: str) -> User:
    user = get_user_by_external(session, user_id)
    if user is None:
        raise NotFoundError(f"unknown user id {user_id!r}")
    return user


def find_item(session: Session, item_id: str) -> Item:
    item = get_item_by_external(session, item_id)
    if item is None:
        raise NotFoundError(f"unknown item id {item_id!r}")
    return item


def find_rating(session: Session, rating_id: int) -> Rating:
    rating = get_rating(session, rating_id)
    if rating is None:
        raise NotFoundError(f"unknown rating id {rating_id}")
    return rating
