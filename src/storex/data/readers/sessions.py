"""Browsing-session sources (DIGINETICA, RetailRocket, a generic event table) and the
sessionizer.

Session-based models need the clicks of one visit together; sources without a session id get
one from :func:`sessionize`, which starts a new session after a gap of inactivity.
:func:`session_layout` tells the three layouts apart by their header and
:func:`read_session_file` reads any of them.
"""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from storex.data.readers.tabular import (
    parse_timestamps,
    read_table,
    require_values,
    strict_float,
)
from storex.data.schema import StoreData, conform_interactions, require_columns
from storex.errors import DataError, MissingDataError

DIGINETICA_COLUMNS = ("session_id", "user_id", "item_id", "timeframe", "eventdate")
RETAILROCKET_COLUMNS = ("timestamp", "visitorid", "event", "itemid")
RETAILROCKET_EVENTS = {"view": "view", "addtocart": "cart", "transaction": "purchase"}
ANONYMOUS_PREFIX = "anon-"
SESSION_ALIASES: dict[str, tuple[str, ...]] = {
    "session_id": ("session_id", "sessionid", "session"),
    "item_id": ("item_id", "itemid", "item", "product_id", "productid", "sku"),
    "timestamp": ("timestamp", "time", "timeframe", "ts", "datetime", "event_time", "date"),
    "user_id": ("user_id", "userid", "user", "visitorid", "visitor_id", "customer_id"),
    "event": ("event", "event_type", "action"),
}
"""Accepted header spellings of a generic event table (matched ignoring case)."""
EVENT_NAMES: dict[str, str] = {
    **RETAILROCKET_EVENTS,
    "click": "view",
    "pageview": "view",
    "cart": "cart",
    "add_to_cart": "cart",
    "purchase": "purchase",
    "buy": "purchase",
    "order": "purchase",
}
"""Event names of common exports mapped to ``view``/``cart``/``purchase`` (lower case)."""
_SEPARATORS = (",", ";", "\t", "|")


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

    The header may use the competition's spelling (``sessionId;userId;itemId;...``) or the
    sample's (``session_id;user_id;item_id;...``). The time of a view is its event date
    (midnight UTC) plus ``timeframe`` milliseconds; anonymous sessions get the user id
    ``anon-<session_id>``.
    """
    path = Path(path)
    raw = _canonical_header(read_table(path), DIGINETICA_COLUMNS)
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


def read_session_events(path: str | Path, gap_minutes: float = 30.0) -> StoreData:
    """Read a generic CSV/TSV of events whose header names item, time and session or user.

    Columns are found by :data:`SESSION_ALIASES`. Without a session column, each user's
    events are cut into sessions at pauses longer than ``gap_minutes``; without a user
    column, the session is the (anonymous) user. Times are epoch seconds or milliseconds, or
    dates. An ``event`` column is read through :data:`EVENT_NAMES`; unknown names are kept and
    counted in ``read_issues["unknown_event"]``, and events are ``view`` without the column.
    With a session column, rows whose session id is empty (exports mix in ratings or
    reviews, which belong to no visit) are dropped and counted in
    ``read_issues["missing_session_dropped"]``. Any other empty id and unreadable times are a
    :class:`DataError` naming the line and column.
    """
    path = Path(path)
    raw = read_table(path).reset_index(drop=True)  # row labels give file lines
    columns = _session_columns(raw, path)
    issues: Counter[str] = Counter()
    if "session_id" in columns:
        in_session = _filled(raw[columns["session_id"]])
        issues["missing_session_dropped"] = int((~in_session).sum())
        raw = raw.loc[in_session]
    for key in ("item_id", "timestamp", "user_id"):
        if key in columns:
            _require_filled(raw[columns[key]], path=path, column=columns[key])
    seconds = _event_times(raw[columns["timestamp"]], path=path, column=columns["timestamp"])
    frame = pd.DataFrame({"item_id": raw[columns["item_id"]], "timestamp": seconds})
    if "event" in columns:
        names = raw[columns["event"]].astype("string").str.strip()
        events = names.str.lower().map(EVENT_NAMES)
        unknown = events.isna() & names.notna()
        issues["unknown_event"] = int(unknown.sum())
        frame["event"] = events.where(~unknown, names).fillna("view")
    else:
        frame["event"] = "view"
    if "session_id" in columns:
        frame["session_id"] = raw[columns["session_id"]].astype("string").str.strip()
        if "user_id" in columns:
            frame["user_id"] = raw[columns["user_id"]]
        else:
            frame["user_id"] = ANONYMOUS_PREFIX + frame["session_id"]
    else:
        frame["user_id"] = raw[columns["user_id"]].astype("string").str.strip()
        frame = sessionize(frame, gap_minutes * 60.0)
    return StoreData(
        name=path.name.split(".")[0],
        interactions=conform_interactions(frame),
        source=str(path),
        read_issues=+issues,
    )


def _event_times(values: pd.Series, *, path: Path, column: str) -> pd.Series:
    """Epoch seconds of a time column; the first unreadable cell is a DataError.

    A column that is mostly numbers is numeric (seconds, or milliseconds by magnitude), so a
    stray word in it is reported where it is rather than turning every cell into a date.
    """
    numbers = pd.to_numeric(values, errors="coerce")
    if 2 * int(numbers.notna().sum()) >= len(values):
        seconds, _ = parse_timestamps(numbers.astype("float64"))
    else:
        seconds, _ = parse_timestamps(values)
    if seconds.isna().any():
        pos = int(np.flatnonzero(seconds.isna().to_numpy())[0])
        raise DataError(
            f"expected a time (epoch seconds or milliseconds, or a date), got {values.iloc[pos]!r}",
            path=path,
            line=_file_line(values, pos),
            column=column,
        )
    return seconds


def _filled(values: pd.Series) -> pd.Series:
    """Whether each cell holds something other than blanks."""
    text = values.astype("string").str.strip()
    return (text.notna() & (text != "")).astype(bool)


def _require_filled(values: pd.Series, *, path: Path, column: str) -> None:
    """Raise a DataError at the first empty cell, naming its line in the file (rows may have
    been dropped before, so the line comes from the row's original position)."""
    empty = ~_filled(values).to_numpy()
    if empty.any():
        pos = int(np.flatnonzero(empty)[0])
        raise DataError(
            "empty value where one is required",
            path=path,
            line=_file_line(values, pos),
            column=column,
        )


def _file_line(values: pd.Series, pos: int) -> int:
    """The 1-based file line of the ``pos``-th cell of a column read by :func:`read_table`
    (whose row labels count data rows from 0, after one header line)."""
    return int(values.index[pos]) + 2


def session_layout(path: str | Path) -> str:
    """``"diginetica"``, ``"retailrocket"`` or ``"events"`` (generic), from a file's header."""
    path = Path(path)
    header = {_spelling(c) for c in _header(path)}
    if {_spelling(c) for c in DIGINETICA_COLUMNS} <= header:
        return "diginetica"
    if {_spelling(c) for c in RETAILROCKET_COLUMNS} <= header:
        return "retailrocket"
    return "events"


def read_session_file(path: str | Path, gap_minutes: float = 30.0) -> StoreData:
    """Read a session file of any layout :func:`session_layout` recognises."""
    layout = session_layout(path)
    if layout == "diginetica":
        return read_diginetica(path)
    if layout == "retailrocket":
        return read_retailrocket(path, gap_minutes=gap_minutes)
    return read_session_events(path, gap_minutes=gap_minutes)


def _header(path: Path) -> list[str]:
    """The column names on a table file's first line (gzip or plain text)."""
    if not path.is_file():
        raise MissingDataError("file not found", path=path)
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            line = handle.readline().rstrip("\r\n")
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read the header: {exc}", path=path) from exc
    if any(s.lower() == ".tsv" for s in path.suffixes):
        return line.split("\t")
    separator = max(_SEPARATORS, key=line.count)
    return line.split(separator)


def _session_columns(raw: pd.DataFrame, path: Path) -> dict[str, str]:
    """Canonical name -> source column of a generic event table; required ones or an error."""
    by_spelling = {_spelling(c): c for c in raw.columns}
    found: dict[str, str] = {}
    for canon, spellings in SESSION_ALIASES.items():
        match = next(
            (by_spelling[_spelling(s)] for s in spellings if _spelling(s) in by_spelling), None
        )
        if match is not None and match not in found.values():
            found[canon] = match
    missing = [c for c in ("item_id", "timestamp") if c not in found]
    if "session_id" not in found and "user_id" not in found:
        missing.append("session_id (or user_id)")
    if missing:
        accepted = "; ".join(f"{c}: {', '.join(SESSION_ALIASES[c.split(' ')[0]])}" for c in missing)
        raise DataError(
            f"missing column(s) {missing} (accepted spellings: {accepted}); "
            f"found {list(raw.columns)}",
            path=path,
        )
    return found


def _canonical_header(raw: pd.DataFrame, canonical: tuple[str, ...]) -> pd.DataFrame:
    """``raw`` with columns spelled like ``canonical`` (``sessionId`` -> ``session_id``)."""
    wanted = {_spelling(c): c for c in canonical}
    return raw.rename(columns={c: wanted.get(_spelling(c), c) for c in raw.columns})


def _spelling(name: object) -> str:
    """A column name reduced for matching: lower case, no underscores or spaces."""
    return str(name).strip().lower().replace("_", "").replace(" ", "")
