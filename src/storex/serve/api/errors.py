"""Every error the API answers, as JSON ``{"detail": "..."}`` with one status per kind.

The StoreX error tree (plus the storage layer's :class:`DuplicateError` and the few kinds
below) maps to statuses in :data:`STATUS_BY_ERROR`; the most specific class wins.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError as DatabaseDataError
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from storex.errors import (
    ConfigError,
    DataError,
    MissingDataError,
    ModelError,
    NotFittedError,
    StorexError,
)
from storex.serve.db import DuplicateError
from storex.serve.engine import UnknownIdError

log = logging.getLogger(__name__)


class NotFoundError(StorexError):
    """A user, item or rating that does not exist."""


class AuthError(StorexError):
    """A write without the right API key."""


class ForbiddenError(StorexError):
    """An operation this service was configured not to allow."""


class ModelUnavailableError(ModelError):
    """An operation that needs a loaded model when none is."""


class DatabaseUnavailableError(StorexError):
    """The database cannot be reached."""


STATUS_BY_ERROR: dict[type[BaseException], int] = {
    NotFoundError: 404,
    UnknownIdError: 404,
    AuthError: 401,
    ForbiddenError: 403,
    DuplicateError: 409,
    ConfigError: 409,  # a request that cannot work with the current state (say, no rollback)
    MissingDataError: 503,  # a model version that is not there
    DataError: 422,
    ModelUnavailableError: 503,
    NotFittedError: 503,
    ModelError: 503,
    DatabaseUnavailableError: 503,
    StorexError: 500,
}


def status_of(exc: BaseException) -> int:
    """The status of the most specific class of ``exc`` in :data:`STATUS_BY_ERROR`."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


async def storex_error(request: Request, exc: Exception) -> JSONResponse:
    """The one handler of StoreX errors, of a database that cannot be reached and of a
    value the database refuses (a text with NUL, a number out of its range)."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        exc = DatabaseUnavailableError(f"the database is unavailable: {_first_line(exc)}")
    elif isinstance(exc, DatabaseDataError):
        exc = DataError(f"the database cannot take a value of this request: {_first_line(exc)}")
    status = status_of(exc)
    if status >= 500:
        log.log(
            logging.ERROR if status == 500 else logging.WARNING,
            "%s %s failed: %s",
            request.method,
            request.url.path,
            exc,
        )
    headers = {"WWW-Authenticate": "ApiKey"} if status == 401 else None
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, with one readable ``detail`` naming each field and the errors kept."""
    errors: list[dict[str, Any]] = list(getattr(exc, "errors", list)())
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    body = {
        "detail": "; ".join(parts) or "invalid request",
        "errors": [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in errors
        ],
    }
    return JSONResponse(body, status_code=422)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's errors (unknown path, wrong method) as the same JSON."""
    status = getattr(exc, "status_code", 500)
    detail = getattr(exc, "detail", None) or "error"
    if status == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}"
    headers = getattr(exc, "headers", None)
    return JSONResponse({"detail": str(detail)}, status_code=status, headers=headers)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed unexpectedly", request.method, request.url.path)
    return JSONResponse({"detail": f"internal error ({type(exc).__name__})"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StorexError, storex_error)
    app.add_exception_handler(OperationalError, storex_error)
    app.add_exception_handler(InterfaceError, storex_error)
    app.add_exception_handler(DatabaseDataError, storex_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]
