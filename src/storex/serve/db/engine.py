"""Engines and sessions for SQLite (the default) and PostgreSQL, for writing or reading.

SQLite runs in WAL mode so readers and the writer never wait for each other, with
``synchronous=FULL`` so that a committed rating survives a power cut, not just a crash of
the process (WAL with NORMAL may lose the last commits on power loss). A writing engine
starts every SQLite transaction with ``BEGIN IMMEDIATE``: it takes the write lock up front
and waits for it (``busy_timeout``) instead of failing when a read-then-write transaction
meets another writer. A reading engine (``read_only=True``) starts deferred transactions,
which read a snapshot and take no lock, on connections refused any write
(``query_only``); on PostgreSQL its transactions are read-only by default. An in-memory
SQLite database is one connection, so reading and writing there share the writing engine.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from storex.config import DEFAULT_DATABASE_URL
from storex.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_SIZE = 10
MAX_OVERFLOW = 20


def normalize_url(url: str | URL) -> URL:
    """Parse ``url``; plain ``postgresql://`` (or ``postgres://``) URLs get the psycopg driver."""
    try:
        parsed = make_url(str(url).replace("postgres://", "postgresql://", 1))
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL: {url!r} ({exc})") from exc
    if parsed.drivername in ("postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r} in {parsed!r}: "
            "expected sqlite:///path or postgresql://user@host/db"
        )
    return parsed


def make_engine(
    url: str | URL = DEFAULT_DATABASE_URL, *, read_only: bool = False, **options: Any
) -> Engine:
    """An engine ready for a multi-threaded server; ``options`` go to ``create_engine``.

    ``read_only`` engines serve reads without taking SQLite's write lock (see the module
    docstring); a write through one fails.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, read_only, options)
    settings: dict[str, Any] = {
        "pool_size": POOL_SIZE,
        "max_overflow": MAX_OVERFLOW,
        "pool_pre_ping": True,  # a server restart or idle timeout must not fail a request
        "pool_recycle": 1800,
        "json_serializer": _json_dumps,
    }
    if read_only:
        settings["connect_args"] = {"options": "-c default_transaction_read_only=on"}
    return create_engine(parsed, **{**settings, **options})


def is_in_memory(url: str | URL) -> bool:
    """Whether ``url`` is an in-memory SQLite database (one connection for everything)."""
    parsed = normalize_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (handlers return them)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def _sqlite_engine(url: URL, read_only: bool, options: dict[str, Any]) -> Engine:
    in_memory = is_in_memory(url)
    if in_memory and read_only:
        raise ConfigError("an in-memory SQLite database has no separate readers: use its engine")
    settings: dict[str, Any] = {
        "connect_args": {"check_same_thread": False},
        "json_serializer": _json_dumps,
    }
    if in_memory:
        settings["poolclass"] = StaticPool  # one shared connection, or each sees its own DB
    else:
        Path(str(url.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
        settings.update(pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW)
    engine = create_engine(url, **{**settings, **options})
    event.listen(engine, "connect", _sqlite_reader_on_connect if read_only else _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin_read if read_only else _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # The driver's own transaction handling would defer BEGIN and break SAVEPOINTs.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS:d}")
    finally:
        cursor.close()


def _sqlite_reader_on_connect(dbapi_connection: sqlite3.Connection, record: object) -> None:
    _sqlite_on_connect(dbapi_connection, record)
    dbapi_connection.execute("PRAGMA query_only=ON")


def _sqlite_on_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_on_begin_read(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _json_dumps(value: object) -> str:
    """JSON that keeps non-ASCII text as is, so searching categories finds accented words."""
    return json.dumps(value, ensure_ascii=False)
