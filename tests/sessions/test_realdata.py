"""The DIGINETICA sample end to end on the data side: every view accounted for."""

from __future__ import annotations

import pytest

from storex.sessions import SessionDataSettings, prepare_sessions

pytestmark = pytest.mark.realdata


def test_diginetica_sample_counts_add_up(real_dataset) -> None:
    path = real_dataset("diginetica-sample/sample_train-item-views.csv")
    data = prepare_sessions(path, SessionDataSettings())
    report = data.report
    assert report["rows"] == 12391
    assert (
        report["rows"] == report["steps"] + report["repeats_merged"] + report["short_session_steps"]
    )
    assert report["short_sessions"] + report["sessions"] == 2986  # 1-view sessions go first
    split_steps = report["steps_outside_parts"] + sum(
        report[f"{p}_{key}"]
        for p in ("train", "valid", "test")
        for key in ("steps", "unknown_item_events", "repeats_merged", "short_session_steps")
    )
    assert split_steps == report["steps"]
    for part in ("train", "valid", "test"):
        steps, sessions = report[f"{part}_steps"], report[f"{part}_sessions"]
        assert report[f"{part}_samples"] == steps - sessions  # one per step after the first
    assert report["valid_samples"] > 100 and report["test_samples"] > 100
    assert data.num_items == report["items"] and data.graph.num_items == data.num_items
