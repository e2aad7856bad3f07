"""Bulk upserts of catalog rows, for loading a whole data set inside the caller's transaction.

Rows come as columns (name -> equally long sequences) and are turned into what the database
stores in one pass per column, not through the ORM's per-value processing: at a million
ratings that processing, not the database, was most of the load time.

- PostgreSQL: ``COPY`` into a temporary staging table (dropped at commit), then one
  ``INSERT ... SELECT ... ON CONFLICT``.
- SQLite: ``executemany`` of the same upsert in batches of :data:`SQLITE_BATCH_ROWS`.

Either way a row already there with the same values is not rewritten, so loading the same
source twice changes nothing; a refused row raises SQLAlchemy's ``IntegrityError`` or
``DataError`` like any statement, and the caller's transaction keeps the load all or nothing.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import JSON, Connection, Table, func, select
from sqlalchemy import exc as sa_exc

from storex.serve.db.models import Base, UTCDateTime

SQLITE_BATCH_ROWS = 5_000
SQLITE_LOAD_CACHE_KB = 256 * 1024
Columns = Mapping[str, Sequence[Any]]
USERS: Table = Base.metadata.tables["users"]
ITEMS: Table = Base.metadata.tables["items"]
RATINGS: Table = Base.metadata.tables["ratings"]


def upsert_rows(
    connection: Connection,
    table: Table,
    columns: Columns,
    *,
    key: Sequence[str],
    update: Sequence[str] = (),
    touched: Mapping[str, Any] | None = None,
) -> int:
    """Insert the rows of ``columns``; on a clash of ``key`` overwrite the ``update`` columns
    if any differ.

    With ``update`` empty, existing rows are kept as they are (insert if missing).
    ``touched`` sets extra columns (e.g. ``updated_at``) only on rows actually changed.
    Returns how many rows were sent.
    """
    names = list(columns)
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of unequal length for {table.name}: {sorted(lengths)}")
    rows = lengths.pop() if lengths else 0
    if rows == 0:
        return 0
    dialect = connection.dialect.name
    touched = dict(touched or {}) if update else {}  # only changed rows are touched
    stored = {name: _stored(table, name, columns[name], dialect) for name in names}
    if dialect == "postgresql":
        _copy_upsert(connection, table, stored, key, update, touched)
    elif dialect == "sqlite":
        _sqlite_upsert(connection, table, stored, key, update, touched)
    else:
        raise ValueError(f"no bulk upsert for the {dialect!r} dialect")
    return rows


def upsert_users(connection: Connection, columns: Columns, *, profiles: bool, now: datetime) -> int:
    """Users by ``external_id``; ``profiles=False`` adds bare ids and never blanks a profile."""
    update = ("age", "gender", "occupation", "zip") if profiles else ()
    return upsert_rows(
        connection, USERS, columns, key=("external_id",), update=update, touched={"updated_at": now}
    )


def upsert_items(connection: Connection, columns: Columns, *, details: bool) -> int:
    """Items by ``external_id``; stock is the shop's to set, so it is never overwritten."""
    update = ("title", "year", "categories", "url", "brand", "price") if details else ()
    return upsert_rows(connection, ITEMS, columns, key=("external_id",), update=update)


def upsert_ratings(connection: Connection, columns: Columns, *, now: datetime) -> int:
    """Ratings by (user, item): a new value or event replaces the stored one."""
    return upsert_rows(
        connection,
        RATINGS,
        columns,
        key=("user_id", "item_id"),
        update=("rating", "event"),
        touched={"updated_at": now},
    )


def external_ids(connection: Connection, table: Table) -> dict[str, int]:
    """``external_id -> id`` of every row of ``table``."""
    query = select(table.c.external_id, table.c.id)
    return {external: ident for external, ident in connection.execute(query)}


def table_counts(connection: Connection) -> dict[str, int]:
    """Rows in each table."""
    return {
        name: int(connection.scalar(select(func.count()).select_from(table)) or 0)
        for name, table in (("users", USERS), ("items", ITEMS), ("ratings", RATINGS))
    }


# ---- PostgreSQL --------------------------------------------------------------------------


def _copy_upsert(
    connection: Connection,
    table: Table,
    stored: dict[str, list[Any]],
    key: Sequence[str],
    update: Sequence[str],
    touched: dict[str, Any],
) -> None:
    names = ", ".join(stored)
    stage = f"storex_stage_{table.name}_{secrets.token_hex(4)}"
    copy = f"COPY {stage} ({names}) FROM STDIN"
    # The target's column types without its constraints: rows are checked once, on INSERT.
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "
        f"SELECT {names} FROM {table.name} WITH NO DATA"
    )
    with _driver_errors(connection, copy):
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(copy) as writer:  # type: ignore[union-attr]
            for row in zip(*stored.values(), strict=True):
                writer.write_row(row)
    conflict = _on_conflict(table, key, update, touched, placeholder="%({})s")
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} {conflict}",
        dict(touched),
    )
    connection.exec_driver_sql(f"DROP TABLE {stage}")


# ---- SQLite ------------------------------------------------------------------------------


def _sqlite_upsert(
    connection: Connection,
    table: Table,
    stored: dict[str, list[Any]],
    key: Sequence[str],
    update: Sequence[str],
    touched: dict[str, Any],
) -> None:
    names = list(stored)
    values = ", ".join("?" for _ in names)
    conflict = _on_conflict(table, key, update, touched, placeholder="?")
    statement = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({values}) {conflict}"
    # positional: the row's values, then the touched columns in the order SET names them
    extra = tuple(_stored(table, name, [value], "sqlite")[0] for name, value in touched.items())
    rows = [row + extra for row in zip(*stored.values(), strict=True)]
    with _driver_errors(connection, statement):
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        # A million rows update three indexes: with SQLite's default 2 MB page cache most of
        # the time went to re-reading their pages.
        before = cursor.execute("PRAGMA cache_size").fetchone()[0]
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_LOAD_CACHE_KB:d}")
        try:
            for start in range(0, len(rows), SQLITE_BATCH_ROWS):
                cursor.executemany(statement, rows[start : start + SQLITE_BATCH_ROWS])
        finally:
            cursor.execute(f"PRAGMA cache_size={int(before):d}")
            cursor.close()


# ---- shared ------------------------------------------------------------------------------


def _on_conflict(
    table: Table,
    key: Sequence[str],
    update: Sequence[str],
    touched: Mapping[str, Any],
    *,
    placeholder: str,
) -> str:
    """``ON CONFLICT`` clause: rewrite ``update`` (and ``touched``) only where a value differs.

    ``placeholder`` formats the parameter of a touched column from its name.
    """
    clash = f"ON CONFLICT ({', '.join(key)})"
    if not update:
        return f"{clash} DO NOTHING"
    assignments = [f"{name} = excluded.{name}" for name in update]
    assignments += [f"{name} = {placeholder.format(name)}" for name in touched]
    differences = [
        f"{_comparable(table, name, table.name)} IS DISTINCT FROM "
        f"{_comparable(table, name, 'excluded')}"
        for name in update
    ]
    return f"{clash} DO UPDATE SET {', '.join(assignments)} WHERE {' OR '.join(differences)}"


def _comparable(table: Table, name: str, owner: str) -> str:
    # PostgreSQL has no equality operator for json; compare its text.
    column = f"{owner}.{name}"
    return f"CAST({column} AS TEXT)" if isinstance(table.c[name].type, JSON) else column


@contextmanager
def _driver_errors(connection: Connection, statement: str) -> Iterator[None]:
    """Errors of the driver's own calls as SQLAlchemy's (``IntegrityError``, ``DataError``,
    ...), as a statement run through SQLAlchemy would raise them."""
    dbapi_error = connection.dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as exc:
        raise sa_exc.DBAPIError.instance(statement, None, exc, dbapi_error) from exc


def _stored(table: Table, name: str, values: Sequence[Any], dialect: str) -> list[Any]:
    """``values`` of one column as the database stores them (None for missing)."""
    kind = table.c[name].type
    if isinstance(kind, UTCDateTime):
        series = values if isinstance(values, pd.Series) else pd.Series(list(values))
        stamps = pd.to_datetime(series, utc=True)
        text = stamps.dt.strftime(_TIME_FORMAT[dialect])
        return text.astype(object).where(stamps.notna(), None).tolist()
    if isinstance(kind, JSON):
        return [None if v is None else _json(v) for v in values]
    return list(values)


def _json(value: Any) -> str:
    """Non-ASCII text kept as is, as the engines' serializer writes it (search finds it)."""
    return json.dumps(value, ensure_ascii=False)


# What SQLAlchemy writes for a UTC timestamp: naive text on SQLite, an explicit zone on
# PostgreSQL (text without one would be read in the session's time zone).
_TIME_FORMAT = {"sqlite": "%Y-%m-%d %H:%M:%S.%f", "postgresql": "%Y-%m-%d %H:%M:%S.%f+00:00"}
