"""Sessionizing: kept event kinds, gap cuts, merged repeats, short sessions, order."""

from __future__ import annotations

import pandas as pd
import pytest

from storex.data.schema import StoreData, interactions_frame
from storex.errors import ConfigError, EmptyDataError
from storex.sessions import SessionOptions, build_sessions
from storex.sessions.build import GAP_SESSION_PREFIX


def store(frame: pd.DataFrame) -> StoreData:
    return StoreData(name="t", interactions=frame)


def test_given_sessions_are_ordered_by_time_and_repeats_merged() -> None:
    frame = interactions_frame(
        ["u"] * 6,
        ["b", "a", "a", "c", "x", "y"],
        timestamp=[20.0, 10.0, 15.0, 30.0, 5.0, 6.0],
        event=["view", "view", "cart", "view", "view", "view"],
        session_id=["s1", "s1", "s1", "s1", "s0", "s0"],
    )
    table, report = build_sessions(store(frame))
    assert table.session_ids.tolist() == ["s0", "s1"]  # by first event time
    assert table.session(1).tolist() == ["a", "b", "c"]
    assert table.events[table.offsets[1]] == 1  # the merged step keeps the cart
    assert report["repeats_merged"] == 1
    assert (report["sessions"], report["steps"]) == (2, 5)


def test_rows_without_session_are_cut_per_user_at_gaps() -> None:
    frame = interactions_frame(
        ["u", "u", "u", "v", "v"],
        ["a", "b", "c", "a", "b"],
        timestamp=[0.0, 60.0, 60.0 + 31 * 60, 0.0, 10.0],
        event="view",
    )
    table, report = build_sessions(store(frame), SessionOptions(gap_minutes=30, min_length=1))
    assert sorted(table.lengths.tolist()) == [1, 2, 2]
    assert all(s.startswith(GAP_SESSION_PREFIX) for s in table.session_ids)
    assert report["rows_sessionized_by_gap"] == 5


def test_unkept_events_and_short_sessions_are_counted() -> None:
    frame = interactions_frame(
        ["u"] * 5,
        ["a", "b", "c", "d", "e"],
        timestamp=[1.0, 2.0, 3.0, 4.0, 5.0],
        event=["view", "rating", "purchase", "view", None],
        session_id=["s1", "s1", "s1", "s2", "s3"],
    )
    table, report = build_sessions(store(frame), SessionOptions(events=("view", "purchase")))
    assert table.session_ids.tolist() == ["s1"]
    assert table.session(0).tolist() == ["a", "c"]
    assert report["event_rating_dropped"] == 1
    assert report["missing_event_as_view"] == 1
    assert (report["short_sessions"], report["short_session_steps"]) == (2, 2)
    assert report["rows"] == 5 == 2 + 1 + 2  # kept + dropped kind + short


def test_nothing_left_is_an_error_and_options_are_checked() -> None:
    frame = interactions_frame(["u"], ["a"], timestamp=[1.0], event="view", session_id="s")
    with pytest.raises(EmptyDataError, match="no session of at least 2 steps"):
        build_sessions(store(frame))
    with pytest.raises(ConfigError, match="events must be a non-empty subset"):
        SessionOptions(events=("view", "click"))
    with pytest.raises(ConfigError, match="gap_minutes"):
        SessionOptions(gap_minutes=0)
