"""Users: register (with demographics), read, list their ratings."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from storex.serve.api.deps import (
    Offset,
    ReadSessionDep,
    ServiceDep,
    SessionDep,
    WriteKey,
    closes_session,
)
from storex.serve.api.errors import NotFoundError
from storex.serve.api.lookup import find_user
from storex.serve.api.schemas import MAX_PAGE, RatingOut, RatingPage, UserCreate, UserOut
from storex.serve.db import create_user, list_user_ratings
from storex.serve.live import LiveUpdate

router = APIRouter(prefix="/api/users", tags=["users"])


@router.post("", status_code=201, response_model=UserOut, dependencies=[WriteKey])
@closes_session
def register_user(
    body: UserCreate, session: SessionDep, service: ServiceDep, response: Response
) -> UserOut:
    """Store a user (an id is generated when none is given) and tell the engine."""
    external_id = body.external_id or f"u-{uuid.uuid4().hex[:16]}"
    user = create_user(session, external_id, **body.demographics())
    holder = service.holder
    if holder is not None and external_id not in holder.engine.bundle.user_map:
        holder.register_user(external_id, body.demographics() or None)  # DataError: 422
    session.commit()
    service.mark_synced(external_id)
    service.announce(LiveUpdate("user", user=external_id))
    response.headers["Location"] = f"/api/users/{external_id}"
    return UserOut.of(user)


@router.get("/{user_id}", response_model=UserOut)
@closes_session
def read_user(user_id: str, session: ReadSessionDep) -> UserOut:
    return UserOut.of(find_user(session, user_id))


@router.get("/{user_id}/ratings", response_model=RatingPage)
@closes_session
def user_ratings(
    user_id: str,
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
    offset: Offset = 0,
) -> RatingPage:
    """The user's ratings, newest first."""
    user = find_user(session, user_id)
    page = list_user_ratings(session, user.id, limit=limit, offset=offset)
    if page is None:  # deleted since it was found
        raise NotFoundError(f"unknown user id {user_id!r}")
    return RatingPage(
        user_id=user_id,
        ratings=[RatingOut.of(rating, user_id, item) for rating, item in page.rows],
        total=page.total,
        limit=limit,
        offset=offset,
    )
