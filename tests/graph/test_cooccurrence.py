"""Item co-occurrence: hand-computed counts, ordering, sequence boundaries, top-n."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from storex.data.schema import interactions_frame
from storex.errors import ConfigError, DataError
from storex.graph import build_item_cooccurrence
from storex.idmap import IdMap

ITEMS = IdMap(["A", "B", "C", "D", "E"])


def frame(rows: list[tuple], positive: list[bool] | None = None) -> pd.DataFrame:
    """rows: (user, item, time, session, split)."""
    users, items, times, sessions, splits = zip(*rows, strict=True)
    out = interactions_frame(
        list(users),
        list(items),
        timestamp=list(times),
        session_id=list(sessions),
        split=list(splits),
    )
    out["positive"] = positive if positive is not None else True
    return out


def as_dict(result) -> dict[tuple[str, str], float]:
    edge_index, weight = result
    return {
        (ITEMS.external(a), ITEMS.external(b)): w
        for (a, b), w in zip(edge_index.t().tolist(), weight.tolist(), strict=True)
    }


def test_counts_match_a_hand_computed_session():
    # session A B C A, window 2: d=1 pairs AB BC CA, d=2 pairs AC BA
    rows = [("u", x, t, "s1", "train") for t, x in enumerate("ABCA")]
    got = as_dict(build_item_cooccurrence(frame(rows), ITEMS, window=2, top_n=10))
    assert got == {
        ("A", "B"): 2.0, ("B", "A"): 2.0,
        ("A", "C"): 2.0, ("C", "A"): 2.0,
        ("B", "C"): 1.0, ("C", "B"): 1.0,
    }  # fmt: skip


def test_window_limits_the_distance():
    rows = [("u", x, t, "s1", "train") for t, x in enumerate("ABCD")]
    got = as_dict(build_item_cooccurrence(frame(rows), ITEMS, window=1, top_n=10))
    assert set(got) == {("A", "B"), ("B", "A"), ("B", "C"), ("C", "B"), ("C", "D"), ("D", "C")}


def test_order_comes_from_time_not_from_row_order():
    rows = [("u", "C", 3.0, "s1", "train"), ("u", "A", 1.0, "s1", "train"),
            ("u", "B", 2.0, "s1", "train")]  # fmt: skip
    got = as_dict(build_item_cooccurrence(frame(rows), ITEMS, window=1, top_n=10))
    assert set(got) == {("A", "B"), ("B", "A"), ("B", "C"), ("C", "B")}


def test_sessions_do_not_bleed_into_each_other_and_sessionless_rows_use_the_user():
    rows = [
        ("u1", "A", 1.0, "s1", "train"),
        ("u1", "B", 2.0, "s1", "train"),
        ("u1", "C", 3.0, "s2", "train"),  # new session: no B-C pair
        ("u1", "D", 4.0, "s2", "train"),
        ("u2", "D", 1.0, None, "train"),  # no session: u2's own sequence D, E
        ("u2", "E", 2.0, None, "train"),
    ]
    got = as_dict(build_item_cooccurrence(frame(rows), ITEMS, window=1, top_n=10))
    assert got == {
        ("A", "B"): 1.0, ("B", "A"): 1.0,
        ("C", "D"): 1.0, ("D", "C"): 1.0,
        ("D", "E"): 1.0, ("E", "D"): 1.0,
    }  # fmt: skip


def test_only_train_rows_count_and_self_pairs_are_skipped():
    rows = [
        ("u", "A", 1.0, "s1", "train"),
        ("u", "A", 2.0, "s1", "train"),
        ("u", "B", 3.0, "s1", "valid"),
        ("u", "C", 4.0, "s1", "train"),
    ]
    got = as_dict(build_item_cooccurrence(frame(rows), ITEMS, window=1, top_n=10))
    assert got == {("A", "C"): 1.0, ("C", "A"): 1.0}


def test_positives_only_drops_other_rows():
    rows = [("u", x, t, "s1", "train") for t, x in enumerate("ABC")]
    got = as_dict(
        build_item_cooccurrence(
            frame(rows, positive=[True, False, True]),
            ITEMS,
            window=1,
            top_n=10,
            positives_only=True,
        )
    )
    assert got == {("A", "C"): 1.0, ("C", "A"): 1.0}


def test_top_n_keeps_the_heaviest_neighbours_smaller_index_first_on_ties():
    # adjacent to A: B 6 times, C 4 times, D and E twice each (a tie, D has the smaller index)
    seq = "ABABABACACADAEA"
    rows = [("u", x, t, "s1", "train") for t, x in enumerate(seq)]
    edge_index, weight = build_item_cooccurrence(frame(rows), ITEMS, window=1, top_n=3)
    a = ITEMS.index("A")
    mine = edge_index[0] == a
    assert [ITEMS.external(i) for i in edge_index[1][mine].tolist()] == ["B", "C", "D"]
    assert weight[mine].tolist() == [6.0, 4.0, 2.0]
    counts = Counter(edge_index[0].tolist())
    assert max(counts.values()) <= 3


def test_matches_a_brute_force_count_on_random_sessions():
    rng = np.random.default_rng(7)
    n = 300
    rows = [
        (f"u{rng.integers(5)}", "ABCDE"[rng.integers(5)], float(rng.integers(50)),
         f"s{rng.integers(20)}" if rng.random() < 0.7 else None, "train")
        for _ in range(n)
    ]  # fmt: skip
    data = frame(rows)
    got = as_dict(build_item_cooccurrence(data, ITEMS, window=3, top_n=10))

    expected: Counter[tuple[str, str]] = Counter()
    data = data.assign(key=data["session_id"].fillna("user:" + data["user_id"]), pos=range(n))
    for _, seq in data.sort_values(["timestamp", "pos"]).groupby("key", sort=False):
        items = seq["item_id"].tolist()
        for i in range(len(items)):
            for j in range(i + 1, min(i + 4, len(items))):
                if items[i] != items[j]:
                    expected[(items[i], items[j])] += 1
                    expected[(items[j], items[i])] += 1
    assert got == {k: float(v) for k, v in expected.items()}


def test_empty_and_bad_input():
    rows = [("u", "A", 1.0, "s1", "valid")]
    edge_index, weight = build_item_cooccurrence(frame(rows), ITEMS)
    assert edge_index.shape == (2, 0) and weight.shape == (0,)
    with pytest.raises(DataError, match="item_id"):
        build_item_cooccurrence(frame([("u", "Z", 1.0, "s", "train")]), ITEMS)
    with pytest.raises(ConfigError):
        build_item_cooccurrence(frame(rows), ITEMS, window=0)


def test_a_long_pause_cuts_a_sessionless_history_but_not_a_session():
    minute = 60.0
    rows = [
        ("u1", "A", 0.0, None, "train"),
        ("u1", "B", 10 * minute, None, "train"),
        ("u1", "C", 100 * minute, None, "train"),  # 90 minutes later: a new sequence
        ("u2", "D", 0.0, "s9", "train"),
        ("u2", "E", 100 * minute, "s9", "train"),  # same session: still paired
    ]
    cut = as_dict(build_item_cooccurrence(frame(rows), ITEMS, window=2, session_gap_minutes=30))
    assert set(cut) == {("A", "B"), ("B", "A"), ("D", "E"), ("E", "D")}
    whole = as_dict(build_item_cooccurrence(frame(rows), ITEMS, window=2))
    assert ("B", "C") in whole and ("A", "C") in whole
