"""Fill the database from any data set StoreX can read: users, items and, on request, ratings.

The whole load is one transaction: a bad row anywhere leaves the database as it was. Nothing
is dropped silently: interactions without a usable rating, merged repeats and reader issues
are counted in the returned summary.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import IntegrityError

from storex.data.catalog import load_dataset
from storex.data.schema import StoreData
from storex.errors import DataError
from storex.serve.db.bulk import (
    ITEMS,
    USERS,
    external_ids,
    table_counts,
    upsert_items,
    upsert_ratings,
    upsert_users,
)
from storex.serve.db.engine import make_engine
from storex.serve.db.migrate import upgrade_database
from storex.serve.db.models import RATING_MAX, RATING_MIN, utcnow


def init_database(
    url: str,
    *,
    source: str | Path | None = None,
    data_dir: Path | None = None,
    with_history: bool = False,
) -> dict[str, Any]:
    """Create or migrate the schema, then load ``source`` (a data set name or path) if given.

    Parameters
    ----------
    url
        Database URL (``sqlite:///file.db`` or ``postgresql://user@host/db``).
    source, data_dir
        What :func:`storex.data.catalog.load_dataset` reads, and where named sets live.
    with_history
        Also load the interactions that carry a rating between 1 and 5.

    Returns
    -------
    dict
        ``revision``; ``users``/``items``/``ratings`` written from the source;
        ``users_from_interactions``/``items_from_interactions`` (ids with no profile row);
        ``ratings_skipped_missing``/``ratings_skipped_out_of_range``/
        ``ratings_duplicates_merged``; the reader's ``read_issues``; ``total_*`` row counts.
    """
    engine = make_engine(url)
    try:
        summary: dict[str, Any] = {
            "revision": upgrade_database(engine),
            "source": None if source is None else str(source),
            "users": 0,
            "items": 0,
            "ratings": 0,
            "users_from_interactions": 0,
            "items_from_interactions": 0,
            "ratings_skipped_missing": 0,
            "ratings_skipped_out_of_range": 0,
            "ratings_duplicates_merged": 0,
            "read_issues": {},
        }
        if source is not None:
            data = load_dataset(source, data_dir=data_dir)
            summary["read_issues"] = dict(data.read_issues)
            with engine.begin() as connection:
                summary.update(
                    load_store(connection, data, with_history=with_history, where=str(source))
                )
        with engine.connect() as connection:
            counts = table_counts(connection)
        summary.update({f"total_{name}": n for name, n in counts.items()})
        return summary
    finally:
        engine.dispose()


def load_store(
    connection: Connection, data: StoreData, *, with_history: bool, where: str | None = None
) -> dict[str, int]:
    """Upsert users, items and (``with_history``) ratings of ``data`` on ``connection``.

    Each table is checked just before it is written; the caller's transaction makes the load
    all or nothing. Errors name ``where`` (default: the data's source), the table, the row
    (1-based, in the order the reader returned the table) and the column.
    """
    where = where or data.source or data.name
    now = utcnow()
    inter = data.interactions
    _require_ids(inter, "user_id", "interactions", where)
    _require_ids(inter, "item_id", "interactions", where)
    counts: dict[str, int] = {}

    profiles = _user_rows(data.users, where) if data.users is not None else {}
    new = _new_ids(inter["user_id"], set(profiles.get("external_id", ())))
    bare: dict[str, list[Any]] = {"external_id": new, "created_at": [now] * len(new)}
    try:
        counts["users"] = upsert_users(connection, profiles, profiles=True, now=now)
        counts["users_from_interactions"] = upsert_users(connection, bare, profiles=False, now=now)
        counts["users"] += counts["users_from_interactions"]

        details = _item_rows(data.items, where, now) if data.items is not None else {}
        new = _new_ids(inter["item_id"], set(details.get("external_id", ())))
        bare = {"external_id": new, "categories": [[]] * len(new), "created_at": [now] * len(new)}
        counts["items"] = upsert_items(connection, details, details=True)
        counts["items_from_interactions"] = upsert_items(connection, bare, details=False)
        counts["items"] += counts["items_from_interactions"]

        if with_history:
            rows, skipped = _rating_rows(connection, inter, where, now)
            counts["ratings"] = upsert_ratings(connection, rows, now=now)
            counts.update(skipped)
    except (IntegrityError, sa_exc.DataError) as exc:  # a value the checks above let through
        raise DataError(f"the database refused a row: {exc.orig}", path=where) from exc
    return counts


# ---- users and items ---------------------------------------------------------------------


def _user_rows(users: pd.DataFrame, where: str) -> dict[str, list[Any]]:
    _require_ids(users, "user_id", "users", where)
    _require_unique(users, "user_id", "users", where)
    ages = users["age"].to_numpy(dtype="float64")
    bad = ~np.isnan(ages) & ((ages < 0) | (ages != np.round(ages)) | ~np.isfinite(ages))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"users table row {row + 1} (user_id {users['user_id'].iloc[row]!r}): age "
            f"{float(ages[row])!r} is not a whole number >= 0",
            path=where,
            column="age",
        )
    columns: dict[str, list[Any]] = {
        "external_id": _texts(users["user_id"], "users", "user_id", where),
        "age": [None if math.isnan(a) else int(a) for a in ages],
        "gender": _texts(users["gender"], "users", "gender", where),
        "occupation": _texts(users["occupation"], "users", "occupation", where),
        "zip": _texts(users["zip"], "users", "zip", where),
    }
    return columns


def _item_rows(items: pd.DataFrame, where: str, now: Any) -> dict[str, list[Any]]:
    _require_ids(items, "item_id", "items", where)
    _require_unique(items, "item_id", "items", where)
    prices = items["price"].to_numpy(dtype="float64")
    bad = ~np.isnan(prices) & ((prices < 0) | ~np.isfinite(prices))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"items table row {row + 1} (item_id {items['item_id'].iloc[row]!r}): price "
            f"{float(prices[row])!r} is not a finite number >= 0",
            path=where,
            column="price",
        )
    categories = [list(c) for c in items["categories"]]
    for row, values in enumerate(categories):
        if any("\x00" in str(v) for v in values):
            raise _nul_error("items", "categories", row, where)
    url = items["url"] if "url" in items else pd.Series(pd.NA, index=items.index)
    columns: dict[str, list[Any]] = {
        "external_id": _texts(items["item_id"], "items", "item_id", where),
        "title": _texts(items["title"], "items", "title", where),
        "year": [None if pd.isna(y) else int(y) for y in items["year"]],
        "categories": categories,
        "url": _texts(url, "items", "url", where),
        "brand": _texts(items["brand"], "items", "brand", where),
        "price": [None if math.isnan(p) else round(float(p), 2) for p in prices],
        "created_at": [now] * len(items),
    }
    return columns


def _new_ids(ids: pd.Series, known: set[str]) -> list[str]:
    """Distinct ids of ``ids`` (first-seen order) not in ``known``."""
    return [i for i in pd.unique(ids.astype("string").to_numpy()) if i not in known]


# ---- ratings -----------------------------------------------------------------------------


def _rating_rows(
    connection: Connection, inter: pd.DataFrame, where: str, now: Any
) -> tuple[dict[str, Any], dict[str, int]]:
    ratings = inter["rating"].to_numpy(dtype="float64")
    missing = np.isnan(ratings)
    in_range = (ratings >= RATING_MIN) & (ratings <= RATING_MAX)
    kept = inter.loc[in_range, ["user_id", "item_id", "rating", "timestamp", "event"]]
    # One rating per (user, item): the latest one wins (file order breaks ties).
    kept = kept.assign(_order=np.arange(len(kept))).sort_values(
        ["timestamp", "_order"], na_position="first", kind="stable"
    )
    latest = kept.drop_duplicates(["user_id", "item_id"], keep="last").sort_values("_order")
    skipped = {
        "ratings_skipped_missing": int(missing.sum()),
        "ratings_skipped_out_of_range": int((~missing & ~in_range).sum()),
        "ratings_duplicates_merged": len(kept) - len(latest),
    }
    users = latest["user_id"].map(external_ids(connection, USERS))
    items = latest["item_id"].map(external_ids(connection, ITEMS))
    if users.isna().any() or items.isna().any():
        raise RuntimeError("a rated user or item is missing right after it was written")
    created = _datetimes(latest["timestamp"], where, now)
    events = latest["event"].fillna("rating")
    columns: dict[str, Any] = {
        "user_id": users.astype("int64").tolist(),
        "item_id": items.astype("int64").tolist(),
        "rating": latest["rating"].astype("float64").tolist(),
        "event": _texts(events, "interactions", "event", where),
        "created_at": created,
    }
    return columns, skipped


def _datetimes(seconds: pd.Series, where: str, now: Any) -> pd.Series:
    """UTC times of ``seconds`` since 1970, ``now`` where missing."""
    try:
        stamps = pd.to_datetime(seconds, unit="s", utc=True)
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
        raise DataError(
            f"timestamps cannot be read as seconds since 1970: {exc}",
            path=where,
            column="timestamp",
        ) from exc
    stamps = stamps.dt.floor("us")  # the databases keep microseconds
    return stamps.fillna(pd.Timestamp(now)).reset_index(drop=True)


# ---- checks and conversions --------------------------------------------------------------


def _require_ids(frame: pd.DataFrame, column: str, table: str, where: str) -> None:
    missing = frame[column].isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        lacking = int(missing.sum())
        raise DataError(
            f"{table} table row {row + 1}: {column} is missing ({lacking} row(s) lack it)",
            path=where,
            column=column,
        )


def _require_unique(frame: pd.DataFrame, column: str, table: str, where: str) -> None:
    repeated = frame[column].duplicated(keep=False).to_numpy()
    if repeated.any():
        rows = np.flatnonzero(repeated)
        value = frame[column].iloc[rows[0]]
        same = rows[frame[column].iloc[rows].to_numpy() == value][:2] + 1
        raise DataError(
            f"{table} table rows {same[0]} and {same[1]} both have {column} {value!r}",
            path=where,
            column=column,
        )


def _texts(values: pd.Series, table: str, column: str, where: str) -> list[str | None]:
    """Text values with None for missing; NUL characters are refused (PostgreSQL cannot hold
    them and they never belong in catalog text)."""
    series = values.astype("string")
    nul = series.str.contains("\x00", regex=False).fillna(False).to_numpy(dtype=bool)
    if nul.any():
        raise _nul_error(table, column, int(np.flatnonzero(nul)[0]), where)
    return series.astype(object).where(series.notna(), None).tolist()


def _nul_error(table: str, column: str, row: int, where: str) -> DataError:
    return DataError(
        f"{table} table row {row + 1}: {column} holds a NUL character", path=where, column=column
    )
