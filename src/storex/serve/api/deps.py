"""Dependencies of the route handlers, as ``Annotated`` aliases."""

from __future__ import annotations

import functools
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Header, Path, Query, Request
from sqlalchemy.orm import Session

from storex.serve.api.errors import AuthError, ForbiddenError
from storex.serve.api.service import Service
from storex.serve.db.models import MAX_ID, MAX_INTEGER
from storex.serve.engine import EngineHolder

P = ParamSpec("P")
R = TypeVar("R")


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_session(service: ServiceDep) -> AsyncIterator[Session]:
    """A read-write session per request, closed on the event loop.

    Async on purpose: a sync generator's teardown needs a worker thread, and when every
    worker waits for a lock this session holds (SQLite's writer lock), none would come.
    """
    session = service.sessions()
    try:
        yield session
    finally:
        session.close()


async def get_read_session(service: ServiceDep) -> AsyncIterator[Session]:
    """A read-only session per request: it takes no lock, so reads never queue behind writes."""
    session = service.read_sessions()
    try:
        yield session
    finally:
        session.close()


def get_holder(service: ServiceDep) -> EngineHolder:
    """The engine in service; 503 when no model is loaded."""
    return service.require_holder()


def _key_matches(service: Service, given: str | None) -> bool:
    expected = service.settings.serve.api_key
    if expected is None:
        return True
    return given is not None and secrets.compare_digest(
        given.encode(), expected.get_secret_value().encode()
    )


def check_write_key(service: ServiceDep, x_api_key: Annotated[str | None, Header()] = None) -> None:
    """Writes need ``X-API-Key`` when the service has a key."""
    if not _key_matches(service, x_api_key):
        raise AuthError(
            "missing X-API-Key header" if x_api_key is None else "wrong X-API-Key header"
        )


def check_admin_key(service: ServiceDep, x_api_key: Annotated[str | None, Header()] = None) -> None:
    """Model administration always needs the key, so it is off when none is configured."""
    if service.settings.serve.api_key is None:
        raise ForbiddenError("model administration is off: set STOREX_SERVE__API_KEY to allow it")
    check_write_key(service, x_api_key)


def closes_session(handler: Callable[P, R]) -> Callable[P, R]:
    """End the handler's transaction in its own thread, before the answer is serialised.

    Serialising runs in another worker thread; if a write transaction (on SQLite: the writer
    lock) lived until then, workers waiting for that lock could take every thread and the
    answer could never be finished. Read sessions are closed early too, to free connections.
    """

    @functools.wraps(handler)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return handler(*args, **kwargs)
        finally:
            session = kwargs.get("session")
            if isinstance(session, Session):
                session.close()

    return wrapper


# Integers a database can hold, so a huge id or offset is a 422, never an overflow.
RatingId = Annotated[int, Path(ge=1, le=MAX_ID)]
Offset = Annotated[int, Query(ge=0, le=MAX_INTEGER)]
SessionDep = Annotated[Session, Depends(get_session)]
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
HolderDep = Annotated[EngineHolder, Depends(get_holder)]
WriteKey = Depends(check_write_key)
AdminKey = Depends(check_admin_key)
