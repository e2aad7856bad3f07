"""Next-item samples: every prefix, right-aligned windows, truncation counted."""

from __future__ import annotations

import numpy as np
import pytest

from storex.errors import ConfigError
from storex.sessions import SessionTable, next_item_samples
from storex.sessions.samples import PAD, pad_session


def table(*sessions: list[int]) -> SessionTable:
    items = np.array([i for s in sessions for i in s], dtype=np.int64)
    return SessionTable.from_lengths(
        np.array([f"s{n}" for n in range(len(sessions))], dtype=object),
        np.array([len(s) for s in sessions]),
        items,
        np.arange(len(items), dtype=np.int8) % 3,
        np.arange(len(items), dtype=np.float64),
    )


def test_every_prefix_predicts_its_next_item() -> None:
    samples = next_item_samples(table([5, 6, 7, 8], [1, 2]), max_length=3)
    assert len(samples) == 3 + 1
    assert samples.items.tolist() == [
        [PAD, PAD, 5],
        [PAD, 5, 6],
        [5, 6, 7],
        [PAD, PAD, 1],
    ]
    assert samples.targets.tolist() == [6, 7, 8, 2]
    assert samples.sessions.tolist() == [0, 0, 0, 1]
    assert samples.events[2].tolist() == [0, 1, 2]  # the steps' own event codes
    assert samples.events[0].tolist() == [0, 0, 0]  # padding reads as code 0
    assert samples.truncated == 0


def test_long_prefixes_keep_their_latest_steps_and_are_counted() -> None:
    samples = next_item_samples(table([1, 2, 3, 4, 5]), max_length=2)
    assert samples.items.tolist() == [[PAD, 1], [1, 2], [2, 3], [3, 4]]
    assert samples.truncated == 2


def test_batches_cover_the_samples_once() -> None:
    samples = next_item_samples(table([1, 2, 3], [4, 5, 6, 7]), max_length=4)
    batches = samples.batches(2)
    assert [len(b) for b in batches] == [2, 2, 1]
    assert sorted(t for b in batches for t in b.targets.tolist()) == [2, 3, 5, 6, 7]


def test_pad_session_matches_the_sample_layout() -> None:
    items, events = pad_session([3, 4], [0, 2], max_length=3)
    assert items.tolist() == [[PAD, 3, 4]] and events.tolist() == [[0, 0, 2]]
    with pytest.raises(ConfigError):
        next_item_samples(table([1, 2]), max_length=0)
