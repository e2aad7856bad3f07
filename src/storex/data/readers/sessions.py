"""Browsing-session sources (DIGINETICA, RetailRocket) and the generic sessionizer.

Session-based models need the clicks of one visit together; sources without a session id get
one from :func:`sessionize`, which starts a new session after a gap of inactivity.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from storex.data.readers.tabular import read_table, require_values, strict_float
from storex.data.schema import StoreData, conform_interactions, require_columns
from storex.errors import DataError

DIGINETICA_COLUMNS = ("session_id", "user_id", "item_id", "timeframe", "eventdate")
RETAILROCKET_COLUMNS = ("timestamp", "visitorid", "event", "itemid")
RETAILROCKET_EVENTS = {"view": "view", "addtocart": "cart", "transaction": "purchase"}
ANONYMOUS_PREFIX = "anon-"


def sessionize(frame: pd.DataFrame, gap_seconds: float) -> pd.DataFrame:
    """Copy of ``frame`` with ``session_id`` = ``"<user_id>:<n>"``, n counting from 1.

    Events of one user are ordered by ``timestamp``; a gap longer than ``gap_seconds`` opens
    the next session. The ids depend only on users and times, never on row order, so
    re-reading the same data gives the same sessions. Rows keep their original order.
    """
    if gap_seconds <= 0:
        raise ValueError(f"gap_seconds must be positive, got {gap_seconds}")
    for column in ("user_id", "timestamp"):
        if column not in frame:
            raise DataError(f"sessionize needs a {column!r} column", column=column)
    times = frame["timestamp"].to_numpy(dtype="float64")
    if np.isnan(times).any():
        raise DataError(
            f"cannot sessionize {int(np.isnan(times).sum())} row(s) without a timestamp",
            column="timestamp",
        )
    out = frame.copy()
    if len(frame) == 0:
        out["session_id"] = pd.Series(dtype="string")
        return out
    users = frame["user_id"].astype("string")
    codes, _ = pd.factorize(users)
    order = np.lexsort((times, codes))
    sorted_codes, sorted_times = codes[order], times[order]
    user_start = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    new_session = user_start | np.r_[True, np.diff(sorted_times) > gap_seconds]
    running = np.cumsum(new_session)
    first_of_user = np.maximum.accumulate(np.where(user_start, running, 0))
    number = np.empty(len(frame), dtype=np.int64)
    number[order] = running - first_of_user + 1
    labels = users.reset_index(drop=True) + ":" + pd.Series(number).astype("string")
    out["session_id"] = labels.to_numpy()
    return out


def read_diginetica(path: str | Path) -> StoreData:
    """Read DIGINETICA ``train-item-views.csv`` (or its sample) as anonymous-capable views.

    The time of a view is its event date (midnight UTC) plus ``timeframe`` milliseconds;
    anonymous sessions get the user id ``anon-<session_id>``.
    """
    path = Path(path)
    raw = read_table(path)
    require_columns(raw, DIGINETICA_COLUMNS, str(path))
    for column in ("session_id", "item_id", "eventdate"):
        require_values(raw[column], path=path, column=column)
    offset = strict_float(raw["timeframe"], path=path, column="timeframe") / 1000.0
    day = pd.to_datetime(raw["eventdate"], format="%Y-%m-%d", errors="coerce", utc=True)
    if day.isna().any():
        pos = int(np.flatnonzero(day.isna().to_numpy())[0])
        raise DataError(
            f"expected a date YYYY-MM-DD, got {raw['eventdate'].iloc[pos]!r}",
            path=path,
            line=pos + 2,
            column="eventdate",
        )
    midnight = (day - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    session = raw["session_id"].astype("string").str.strip()
    user = raw["user_id"].astype("string").str.strip()
    anonymous = user.isna() | (user == "") | (user == "NA")
    frame = pd.DataFrame(
        {
            "user_id": user.where(~anonymous, ANONYMOUS_PREFIX + session),
            "item_id": raw["item_id"],
            "timestamp": midnight + offset,
            "event": "view",
            "session_id": session,
        }
    )
    issues: Counter[str] = Counter({"missing_timeframe": int(offset.isna().sum())})
    return StoreData(
        name="diginetica",
        interactions=conform_interactions(frame),
        source=str(path),
        read_issues=+issues,
    )


def read_retailrocket(events_path: str | Path, gap_minutes: float = 30.0) -> StoreData:
    """Read RetailRocket ``events.csv`` (views, add-to-carts, transactions), sessionized.

    Event names become ``view``/``cart``/``purchase``; an unknown name is kept as it is and
    counted in ``read_issues["unknown_event"]``.
    """
    path = Path(events_path)
    raw = read_table(path)
    require_columns(raw, RETAILROCKET_COLUMNS, str(path))
    for column in ("visitorid", "itemid", "event"):
        require_values(raw[column], path=path, column=column)
    stamp_ms = strict_float(raw["timestamp"], path=path, column="timestamp")
    require_values(raw["timestamp"], path=path, column="timestamp")
    names = raw["event"].astype("string").str.strip()
    events = names.map(RETAILROCKET_EVENTS)
    unknown = events.isna()
    frame = pd.DataFrame(
        {
            "user_id": raw["visitorid"],
            "item_id": raw["itemid"],
            "timestamp": stamp_ms / 1000.0,
            "event": events.where(~unknown, names),
        }
    )
    frame = sessionize(frame, gap_minutes * 60.0)
    issues: Counter[str] = Counter({"unknown_event": int(unknown.sum())})
    return StoreData(
        name="retailrocket",
        interactions=conform_interactions(frame),
        source=str(path),
        read_issues=+issues,
    )
