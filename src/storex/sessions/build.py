"""Sessionizing: from a canonical interactions table to ordered browsing sessions.

Rows keep their session id when the source has one; rows without (a source with users but
no sessions) are cut into sessions per user at pauses longer than ``gap_minutes``. Only the
event kinds in ``events`` are kept, consecutive repeats of one item are merged, and sessions
shorter than ``min_length`` steps are dropped. Every row that does not make it is counted by
reason in the returned report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from storex.data.readers.sessions import sessionize
from storex.data.schema import StoreData
from storex.errors import ConfigError, DataError, EmptyDataError
from storex.sessions.table import EVENT_TYPES, SessionTable

GAP_SESSION_PREFIX = "gap:"
"""Prefix of session ids made by cutting a user's events at pauses (never clashes with the
source's own ids)."""


@dataclass(frozen=True)
class SessionOptions:
    """How events become sessions.

    Attributes
    ----------
    gap_minutes
        Inactivity that ends a session, for rows whose source gives no session id.
    min_length
        Fewest steps (after merging repeats) a session needs; 2 is the least that yields a
        next-item sample.
    events
        Event kinds kept, from :data:`EVENT_TYPES`; a row with no event kind counts as a view.
    collapse_repeats
        Merge consecutive events of the same item into one step.
    """

    gap_minutes: float = 30.0
    min_length: int = 2
    events: tuple[str, ...] = EVENT_TYPES
    collapse_repeats: bool = True

    def __post_init__(self) -> None:
        if self.gap_minutes <= 0:
            raise ConfigError(f"gap_minutes must be > 0, got {self.gap_minutes}")
        if self.min_length < 1:
            raise ConfigError(f"min_length must be >= 1, got {self.min_length}")
        unknown = sorted(set(self.events) - set(EVENT_TYPES))
        if unknown or not self.events:
            raise ConfigError(
                f"events must be a non-empty subset of {list(EVENT_TYPES)}, got {list(self.events)}"
            )


def build_sessions(
    data: StoreData, options: SessionOptions | None = None
) -> tuple[SessionTable, Counter[str]]:
    """Ordered sessions of ``data`` and the count of rows dropped or changed, by reason.

    Report keys: ``rows``, ``event_<kind>_dropped`` (kinds not kept, e.g. ratings),
    ``missing_event_as_view``, ``missing_item_dropped``, ``rows_sessionized_by_gap``,
    ``repeats_merged``, ``short_sessions`` and ``short_session_steps``, then ``sessions`` and
    ``steps`` kept.
    """
    options = options or SessionOptions()
    frame = data.interactions
    for column in ("item_id", "timestamp"):
        if column not in frame:
            raise DataError(f"session data needs a {column!r} column", column=column)
    report: Counter[str] = Counter({"rows": len(frame)})
    event = frame["event"].astype("string") if "event" in frame else pd.Series(pd.NA)
    missing_event = event.isna()
    report["missing_event_as_view"] = int(missing_event.sum())
    event = event.fillna("view")
    kept = event.isin(options.events).to_numpy(dtype=bool, copy=True)
    for kind, count in event[~kept].value_counts().items():
        report[f"event_{kind}_dropped"] = int(count)
    no_item = frame["item_id"].isna().to_numpy(dtype=bool)
    report["missing_item_dropped"] = int((no_item & kept).sum())
    kept &= ~no_item
    frame = frame.loc[kept]
    event = event[kept]
    if frame["timestamp"].isna().any():
        raise DataError(
            f"{int(frame['timestamp'].isna().sum())} session event(s) have no time; "
            "sessions need ordered events",
            path=data.source or None,
            column="timestamp",
        )
    session = _session_ids(frame, options.gap_minutes, report)
    table = _ordered(session, frame, event)
    if options.collapse_repeats:
        table, merged = table.collapse_repeats()
        report["repeats_merged"] = merged
    short = table.lengths < options.min_length
    report["short_sessions"] = int(short.sum())
    report["short_session_steps"] = int(table.lengths[short].sum())
    table = table.select(~short)
    if not len(table):
        raise EmptyDataError(
            f"no session of at least {options.min_length} steps is left "
            f"(from {report['rows']} rows)",
            path=data.source or None,
        )
    report["sessions"] = len(table)
    report["steps"] = table.num_events
    return table, +report


def _session_ids(frame: pd.DataFrame, gap_minutes: float, report: Counter[str]) -> pd.Series:
    """The source's session ids, and gap-cut per-user sessions where it has none."""
    given = (
        frame["session_id"].astype("string")
        if "session_id" in frame
        else pd.Series(pd.NA, index=frame.index, dtype="string")
    )
    missing = given.isna()
    if not missing.any():
        return given
    report["rows_sessionized_by_gap"] = int(missing.sum())
    cut = sessionize(frame.loc[missing, ["user_id", "timestamp"]], gap_minutes * 60.0)
    filled = given.copy()
    filled[missing] = GAP_SESSION_PREFIX + cut["session_id"].astype("string")
    return filled


def _ordered(session: pd.Series, frame: pd.DataFrame, event: pd.Series) -> SessionTable:
    """Sessions by first event time (then id), events by time (then source order)."""
    codes, ids = pd.factorize(session, sort=True)
    times = frame["timestamp"].to_numpy(dtype=np.float64)
    first = np.full(len(ids), np.inf)
    np.minimum.at(first, codes, times)
    session_rank = np.empty(len(ids), dtype=np.int64)
    session_rank[np.lexsort((np.arange(len(ids)), first))] = np.arange(len(ids))
    order = np.lexsort((np.arange(len(frame)), times, session_rank[codes]))
    rank = session_rank[codes[order]]
    lengths = np.bincount(rank, minlength=len(ids))
    by_rank = np.empty(len(ids), dtype=object)
    by_rank[session_rank] = np.asarray(ids, dtype=object)
    kinds = pd.Categorical(event.to_numpy()[order], categories=list(EVENT_TYPES)).codes
    items = frame["item_id"].astype("string").to_numpy(dtype=object)[order]
    return SessionTable.from_lengths(by_rank, lengths, items, kinds, times[order])
