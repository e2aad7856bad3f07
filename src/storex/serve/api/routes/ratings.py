"""Ratings: stored first (committed), then given to the engine so the next answer shows them,
then announced to the service's other processes (see :mod:`storex.serve.live`).

The write transaction ends at the commit; what the engine needs afterwards is read in a
read-only session, so the writer lock (SQLite) is held only while writing.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from storex.serve.api.deps import (
    RatingId,
    ReadSessionDep,
    ServiceDep,
    SessionDep,
    WriteKey,
    closes_session,
)
from storex.serve.api.errors import NotFoundError
from storex.serve.api.lookup import find_item, find_rating, find_user
from storex.serve.api.schemas import RatingCreate, RatingOut, RatingStatsOut, RatingUpdate
from storex.serve.api.service import Service
from storex.serve.db import (
    DuplicateError,
    Item,
    Rating,
    User,
    create_rating,
    delete_rating,
    get_item,
    get_user,
    rating_id_of,
    rating_stats,
    update_rating,
)
from storex.serve.live import LiveUpdate

router = APIRouter(prefix="/api/ratings", tags=["ratings"])
log = logging.getLogger(__name__)


@router.get("/stats", response_model=RatingStatsOut)
@closes_session
def stats(session: ReadSessionDep) -> RatingStatsOut:
    """How many ratings, their mean and distribution, how many users and items have any."""
    return RatingStatsOut.of(rating_stats(session))


@router.post("", status_code=201, response_model=RatingOut, dependencies=[WriteKey])
@closes_session
def add(
    body: RatingCreate, session: SessionDep, service: ServiceDep, response: Response
) -> RatingOut:
    user = find_user(session, body.user_id)
    item = find_item(session, body.item_id)
    try:
        row = create_rating(session, user.id, item.id, body.rating)
    except DuplicateError:
        existing = _existing(session, user, item)
        raise DuplicateError(
            f"user {body.user_id!r} already rated item {body.item_id!r} (rating id {existing}); "
            f"use PUT /api/ratings/{existing} to change it"
        ) from None
    if row is None:  # the user or item went away in between
        raise NotFoundError(f"user {body.user_id!r} or item {body.item_id!r} no longer exists")
    session.commit()
    session.close()
    _tell_engine(service, user, item, row)
    response.headers["Location"] = f"/api/ratings/{row.id}"
    return RatingOut.of(row, user.external_id, item.external_id)


@router.get("/{rating_id}", response_model=RatingOut)
@closes_session
def read(rating_id: RatingId, session: ReadSessionDep) -> RatingOut:
    row = find_rating(session, rating_id)
    user, item = _owners(session, row)
    return RatingOut.of(row, user.external_id, item.external_id)


@router.put("/{rating_id}", response_model=RatingOut, dependencies=[WriteKey])
@closes_session
def change(
    rating_id: RatingId, body: RatingUpdate, session: SessionDep, service: ServiceDep
) -> RatingOut:
    row = update_rating(session, rating_id, rating=body.rating)
    if row is None:
        raise NotFoundError(f"unknown rating id {rating_id}")
    user, item = _owners(session, row)
    session.commit()
    session.close()
    _tell_engine(service, user, item, row)
    return RatingOut.of(row, user.external_id, item.external_id)


@router.delete("/{rating_id}", status_code=204, dependencies=[WriteKey])
@closes_session
def remove(rating_id: RatingId, session: SessionDep, service: ServiceDep) -> Response:
    row = find_rating(session, rating_id)
    user, item = _owners(session, row)
    if delete_rating(session, rating_id) is None:
        raise NotFoundError(f"unknown rating id {rating_id}")
    session.commit()
    session.close()
    try:
        service.rating_deleted(user, item)
    except Exception:  # stored is what counts; a restart replays it
        service.metrics.engine_sync_errors.inc()
        log.exception("engine did not take the deletion of rating %d", rating_id)
    service.announce(LiveUpdate("rating", user.external_id, item.external_id))
    return Response(status_code=204)


def _tell_engine(service: Service, user: User, item: Item, row: Rating) -> None:
    at = (row.updated_at or row.created_at).timestamp()
    try:
        service.rating_added(user, item, row.rating, row.event, at)
    except Exception:  # stored is what counts; a restart replays it
        service.metrics.engine_sync_errors.inc()
        log.exception("engine did not take rating %d", row.id)
    service.announce(LiveUpdate("rating", user.external_id, item.external_id))


def _owners(session: Session, row: Rating) -> tuple[User, Item]:
    user, item = get_user(session, row.user_id), get_item(session, row.item_id)
    if user is None or item is None:
        raise NotFoundError(f"rating {row.id} names a user or item that no longer exists")
    return user, item


def _existing(session: Session, user: User, item: Item) -> int | str:
    found = rating_id_of(session, user.id, item.id)
    return "unknown" if found is None else found
