"""The temporal split: parts in time order with blackouts, no leakage, everything counted."""

from __future__ import annotations

import numpy as np
import pytest

from storex.errors import ConfigError
from storex.sessions import SplitOptions, build_sessions, temporal_split
from storex.sessions.split import SECONDS_PER_DAY
from storex.sessions.table import SessionTable
from tests.sessions.planted import planted_store


@pytest.fixture(scope="module")
def sessions():
    return build_sessions(planted_store(sessions=800, seed=3))[0]


@pytest.mark.parametrize("blackout_days", [0.0, 2.0, 5.0])
def test_blackout_separates_the_parts(sessions, blackout_days: float) -> None:
    split = temporal_split(sessions, SplitOptions(blackout_days=blackout_days))
    gap = blackout_days * SECONDS_PER_DAY
    assert split.valid.starts.min() - split.train.ends.max() >= gap
    assert split.test.starts.min() - split.valid.ends.max() >= gap
    cut_valid, cut_test = split.cuts
    assert split.train.ends.max() < cut_valid <= split.valid.starts.min() - gap
    assert split.valid.ends.max() < cut_test <= split.test.starts.min() - gap


def test_parts_share_no_session_and_blackouts_are_counted(sessions) -> None:
    split = temporal_split(sessions, SplitOptions(blackout_days=2.0))
    ids = [set(split.part(p).session_ids) for p in ("train", "valid", "test")]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    kept = sum(len(s) for s in ids)
    assert kept + split.report["sessions_outside_parts"] == len(sessions)
    assert split.report["sessions_outside_parts"] > 0  # a 2-day gap in 60 days drops some
    shares = np.array([len(s) for s in ids]) / len(sessions)
    assert shares == pytest.approx([0.7, 0.15, 0.15], abs=0.06)


def table_of(sessions: list[tuple[float, list[str]]]) -> SessionTable:
    """Sessions given as (start day, items), one minute between steps."""
    items = [item for _, steps in sessions for item in steps]
    times = [day * SECONDS_PER_DAY + 60.0 * n for day, steps in sessions for n in range(len(steps))]
    return SessionTable.from_lengths(
        np.array([f"s{n}" for n in range(len(sessions))], dtype=object),
        np.array([len(steps) for _, steps in sessions]),
        np.array(items, dtype=object),
        np.zeros(len(items), dtype=np.int8),
        np.array(times),
    )


def test_items_unseen_in_train_are_removed_and_counted() -> None:
    patterns = [["a", "b", "c", "a"], ["b", "c", "a"], ["c", "a"]]
    train = [(float(day), patterns[day % 3]) for day in range(14)]
    valid = [(20.0, ["a", "z", "b"]), (21.0, ["b", "c"]), (22.0, ["c", "b"])]
    test = [(30.0, ["z", "y"]), (31.0, ["c", "a"]), (32.0, ["a", "z", "a"])]
    split = temporal_split(table_of(train + valid + test), SplitOptions(blackout_days=1.0))
    assert split.item_map.ids == ["a", "b", "c"]
    assert split.report["sessions_outside_parts"] == 0
    assert split.report["valid_unknown_item_events"] == 1
    assert split.report["test_unknown_item_events"] == 3
    assert split.report["test_sessions_emptied"] == 1  # z, y: nothing known
    assert split.report["test_repeats_merged"] == 1  # a, z, a -> a, a -> a
    assert split.report["test_short_sessions"] == 1  # ... and a alone is too short
    assert split.valid.session(0).tolist() == [0, 1]  # a, b
    assert [split.test.session(s).tolist() for s in range(len(split.test))] == [[2, 0]]


def test_split_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="leave room for train"):
        SplitOptions(valid_share=0.5, test_share=0.5)
    with pytest.raises(ConfigError, match="blackout_days"):
        SplitOptions(blackout_days=-1)


def test_every_step_is_accounted_for(sessions) -> None:
    split = temporal_split(sessions, SplitOptions(blackout_days=2.0))
    report = split.report
    accounted = report["steps_outside_parts"]
    for part in ("train", "valid", "test"):
        accounted += report[f"{part}_steps"] + report[f"{part}_unknown_item_events"]
        accounted += report[f"{part}_repeats_merged"] + report[f"{part}_short_session_steps"]
    assert accounted == sessions.num_events
