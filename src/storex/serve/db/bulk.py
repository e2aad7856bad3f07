"""Chunked bulk upserts of catalog rows, for loading a whole data set in one transaction.

Rows are sent with ``executemany`` in chunks; a row that is already there with the same values
is not rewritten, so loading the same source twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Connection, Table, Text, cast, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from storex.serve.db.models import Base

CHUNK_ROWS = 5_000
Row = Mapping[str, Any]
USERS: Table = Base.metadata.tables["users"]
ITEMS: Table = Base.metadata.tables["items"]
RATINGS: Table = Base.metadata.tables["ratings"]


def upsert_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[Row],
    *,
    key: Sequence[str],
    update: Sequence[str] = (),
    touched: Mapping[str, Any] | None = None,
) -> int:
    """Insert ``rows``; on a clash of ``key`` overwrite the ``update`` columns if any differ.

    With ``update`` empty, existing rows are kept as they are (insert if missing).
    ``touched`` sets extra columns (e.g. ``updated_at``) only on rows actually changed.
    Returns how many rows were sent.
    """
    statement = _insert(connection, table)
    if update:
        excluded = statement.excluded
        differences = [
            _comparable(table.c[name]).is_distinct_from(_comparable(excluded[name]))
            for name in update
        ]
        assignments: dict[str, Any] = {name: excluded[name] for name in update}
        assignments.update(touched or {})
        statement = statement.on_conflict_do_update(
            index_elements=list(key), set_=assignments, where=or_(*differences)
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key))
    for start in range(0, len(rows), CHUNK_ROWS):
        connection.execute(statement, list(rows[start : start + CHUNK_ROWS]))
    return len(rows)


def upsert_users(
    connection: Connection, rows: Sequence[Row], *, profiles: bool, now: datetime
) -> int:
    """Users by ``external_id``; ``profiles=False`` adds bare ids and never blanks a profile."""
    columns = ("age", "gender", "occupation", "zip") if profiles else ()
    return upsert_rows(
        connection,
        USERS,
        rows,
        key=("external_id",),
        update=columns,
        touched={"updated_at": now},
    )


def upsert_items(connection: Connection, rows: Sequence[Row], *, details: bool) -> int:
    """Items by ``external_id``; stock is the shop's to set, so it is never overwritten."""
    columns = ("title", "year", "categories", "url", "brand", "price") if details else ()
    return upsert_rows(connection, ITEMS, rows, key=("external_id",), update=columns)


def upsert_ratings(connection: Connection, rows: Sequence[Row], *, now: datetime) -> int:
    """Ratings by (user, item): a new value or event replaces the stored one."""
    return upsert_rows(
        connection,
        RATINGS,
        rows,
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
        for name, table in (
            ("users", USERS),
            ("items", ITEMS),
            ("ratings", RATINGS),
        )
    }


def _insert(connection: Connection, table: Table) -> Any:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"no upsert for the {dialect!r} dialect")


def _comparable(column: Column[Any]) -> Any:
    # PostgreSQL has no equality operator for json; compare its text.
    return cast(column, Text) if isinstance(column.type, JSON) else column
