"""Splits: hand-checked cases for every counted reason, and properties on random frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from storex.config import SplitSettings
from storex.data.schema import interactions_frame
from storex.data.splits import SplitResult, split_interactions
from storex.errors import DataError, EmptyDataError

DAY = 86_400.0
NON_COLD = ("random", "temporal", "leave-last-out")
COLD = ("cold-users", "cold-items")
RATIOS = [(0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (0.5, 0.5, 0.0), (0.7, 0.0, 0.3)]


def _frame(rows: list[tuple[str, str, float]], **columns: object) -> pd.DataFrame:
    users, items, days = zip(*rows, strict=True)
    frame = interactions_frame(list(users), list(items), timestamp=np.array(days) * DAY, **columns)
    frame["row"] = np.arange(len(frame))
    return frame


def _parts(result: SplitResult) -> dict[str, list[tuple[str, str]]]:
    out = result.interactions
    return {
        name: list(zip(part["user_id"], part["item_id"], strict=True))
        for name, part in (("train", result.train), ("valid", result.valid), ("test", result.test))
    } | {"all": list(zip(out["user_id"], out["item_id"], strict=True))}


# --- hand-checked cases ---------------------------------------------------------------------


def test_random_cuts_each_user_by_the_ratios():
    # 10 users x the same 10 items: with 0.8/0.1/0.1 every user gets exactly 8/1/1
    rows = [(f"u{u}", f"i{i}", float(i)) for u in range(10) for i in range(10)]
    rows.append(("lonely", "i0", 0.0))  # one row: stays in train
    result = split_interactions(_frame(rows), SplitSettings(strategy="random", seed=3))
    assert result.report["dropped"] == {"pair_in_train": 0, "unseen_user": 0}
    assert result.report["kept_leaks"] == {"unseen_item": 0}
    per_user = result.interactions.groupby("user_id")["split"].value_counts().unstack(fill_value=0)
    assert per_user.loc["lonely"].to_dict() == {"test": 0, "train": 1, "valid": 0}
    regular = per_user.drop(index="lonely")
    assert (regular["train"] == 8).all() and (regular["valid"] == 1).all()
    assert (regular["test"] == 1).all()
    assert result.report["rows"] == {"train": 81, "valid": 10, "test": 10}


def test_temporal_gap_and_every_leak_reason_are_counted():
    # ratios 0.5/0.25/0.25 of 12 rows: valid from day 6, test from day 9; a 1.5-day blackout
    # before each cut drops day 5 and day 8.
    rows = [
        ("u1", "a", 0),  # train
        ("u2", "b", 1),  # train
        ("u1", "c", 2),  # train
        ("u2", "a", 3),  # train
        ("u2", "f", 4),  # train
        ("u1", "d", 5),  # gap
        ("u2", "c", 6),  # valid
        ("u2", "e", 7),  # valid, but item e never in train: unseen_item
        ("u2", "d", 8),  # gap
        ("u1", "a", 9),  # test, but (u1, a) is in train: pair_in_train
        ("u3", "b", 10),  # test, but u3 never in train: unseen_user
        ("u1", "f", 11),  # test
    ]
    split = SplitSettings(strategy="temporal", ratios=(0.5, 0.25, 0.25), gap_days=1.5)
    result = split_interactions(_frame(rows), split)
    assert result.report["dropped"] == {
        "gap": 2,
        "pair_in_train": 1,
        "unseen_user": 1,
        "unseen_item": 1,
    }
    assert result.report["rows"] == {"train": 5, "valid": 1, "test": 1}
    parts = _parts(result)
    assert parts["valid"] == [("u2", "c")]
    assert parts["test"] == [("u1", "f")]
    assert result.interactions["row"].tolist() == [0, 1, 2, 3, 4, 6, 11]
    assert result.interactions.index.tolist() == list(range(7))


def test_temporal_needs_every_timestamp():
    frame = _frame([("u1", "a", 0), ("u1", "b", 1), ("u2", "a", 2)])
    frame.loc[[0, 2], "timestamp"] = np.nan
    with pytest.raises(DataError, match=r"column 'timestamp'.*2 row\(s\)"):
        split_interactions(frame, SplitSettings(strategy="temporal"))


def test_leave_last_out_orders_by_time_then_row():
    rows = [
        ("a", "x", 1),
        ("a", "y", 3),
        ("a", "z", 3),  # same time as y but later row: a's last interaction
        ("a", "w", 2),
        ("b", "y", 5),  # b has two rows: all train
        ("b", "z", 6),
        ("c", "q", 1),
        ("c", "x", 2),  # valid
        ("c", "q", 3),  # test, but (c, q) is in train
    ]
    result = split_interactions(_frame(rows), SplitSettings(strategy="leave-last-out"))
    parts = _parts(result)
    assert sorted(parts["train"]) == [
        ("a", "w"),
        ("a", "x"),
        ("b", "y"),
        ("b", "z"),
        ("c", "q"),
    ]
    assert sorted(parts["valid"]) == [("a", "y"), ("c", "x")]
    assert parts["test"] == [("a", "z")]
    assert result.report["dropped"] == {"pair_in_train": 1, "unseen_user": 0}


def test_per_user_strategies_keep_items_first_seen_outside_train():
    # "rare" is rated once, by a user whose holdout it falls into: it stays, counted
    rows = [("a", "x", 1), ("a", "y", 2), ("a", "rare", 3), ("b", "x", 1), ("b", "y", 2)]
    result = split_interactions(_frame(rows), SplitSettings(strategy="leave-last-out"))
    assert ("a", "rare") in _parts(result)["test"]
    assert result.report["kept_leaks"] == {"unseen_item": 1}


@pytest.mark.parametrize(
    ("strategy", "column"), [("cold-users", "user_id"), ("cold-items", "item_id")]
)
def test_cold_strategies_hold_out_whole_groups_by_the_ratios(strategy, column):
    rows = [(f"u{k}", f"i{k}", 0.0) for k in range(10)]
    rows += [(f"u{k}", f"i{(k + 1) % 10}", 1.0) for k in range(10)]
    result = split_interactions(_frame(rows), SplitSettings(strategy=strategy, seed=11))
    groups = result.interactions.groupby(column)["split"].agg(lambda s: sorted(set(s)))
    assert all(len(labels) == 1 for labels in groups)  # one split per user (item)
    assert groups.map(lambda labels: labels[0]).value_counts().to_dict() == {
        "train": 8,
        "valid": 1,
        "test": 1,
    }
    assert result.report["dropped"] == {"pair_in_train": 0}
    assert len(result.interactions) == 20


def test_presplit_data_is_kept_as_given_and_leaks_only_counted():
    rows = [("u1", "a", 0), ("u1", "b", 1), ("u2", "a", 2), ("u1", "a", 3), ("u3", "c", 4)]
    frame = _frame(rows, split=["train", "train", "train", "test", "valid"])
    frame["timestamp"] = np.nan  # pre-split data need no time, whatever strategy is set
    result = split_interactions(frame, SplitSettings(strategy="temporal"))
    pd.testing.assert_frame_equal(result.interactions, frame)
    assert result.report["strategy"] == "presplit"
    assert result.report["dropped"] == {}
    assert result.report["kept_leaks"] == {"pair_in_train": 1, "unseen_user": 1, "unseen_item": 0}
    assert result.report["rows"] == {"train": 3, "valid": 1, "test": 1}
    assert result.report["valid_from_train"] == 0


def test_presplit_without_valid_draws_it_from_train_and_keeps_test():
    # 10 users x 10 items: 9 train rows and 1 test row each, no valid (LightGCN's files)
    rows = [(f"u{u}", f"i{i}", float(i)) for u in range(10) for i in range(10)]
    frame = _frame(
        rows, split=["test" if i == 9 else "train" for _ in range(10) for i in range(10)]
    )
    result = split_interactions(frame, SplitSettings(ratios=(0.8, 0.1, 0.1), seed=1))
    out = result.interactions
    assert result.report["strategy"] == "presplit"
    pd.testing.assert_series_equal(
        out["split"] == "test", frame["split"] == "test", check_names=False
    )
    per_user = out.groupby("user_id")["split"].value_counts().unstack(fill_value=0)
    # train + valid = 9 rows per user, cut 8/9 : 1/9 -> exactly 8 and 1
    assert (per_user["train"] == 8).all() and (per_user["valid"] == 1).all()
    assert result.report["valid_from_train"] == 10
    again = split_interactions(frame, SplitSettings(ratios=(0.8, 0.1, 0.1), seed=1))
    pd.testing.assert_frame_equal(again.interactions, out)
    no_valid = split_interactions(frame, SplitSettings(ratios=(0.7, 0.0, 0.3)))
    assert no_valid.report["valid_from_train"] == 0 and no_valid.report["rows"]["valid"] == 0


def test_presplit_with_unknown_label_names_the_column():
    frame = _frame([("u1", "a", 0), ("u1", "b", 1)], split=["train", "holdout"])
    with pytest.raises(DataError, match=r"column 'split'.*holdout"):
        split_interactions(frame, SplitSettings())


def test_presplit_with_unlabelled_rows_is_an_error():
    frame = _frame([("u1", "a", 0), ("u1", "b", 1)], split=["train", None])
    with pytest.raises(DataError, match=r"column 'split'.*1 row\(s\) have no split"):
        split_interactions(frame, SplitSettings())


def test_missing_ids_must_be_cleaned_first():
    frame = interactions_frame(["u1", None], ["a", "b"])
    with pytest.raises(DataError, match="column 'user_id'"):
        split_interactions(frame, SplitSettings())


def test_nothing_to_split_is_empty_data():
    with pytest.raises(EmptyDataError):
        split_interactions(interactions_frame([], []), SplitSettings())


def test_a_split_without_training_rows_is_empty_data():
    # every row at the same instant: train would need rows before the first cut time
    frame = _frame([("u1", "a", 0), ("u1", "b", 0), ("u2", "a", 0)])
    with pytest.raises(EmptyDataError, match="no training rows"):
        split_interactions(frame, SplitSettings(strategy="temporal"))


# --- properties on random frames ------------------------------------------------------------


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 60))
    ints = st.lists(st.integers(0, 9), min_size=n, max_size=n)
    users, items = draw(ints), draw(ints)
    days = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    return _frame(
        [(f"u{u}", f"i{i}", float(d)) for u, i, d in zip(users, items, days, strict=True)]
    )


def split_settings(*strategies: str) -> st.SearchStrategy[SplitSettings]:
    return st.builds(
        SplitSettings,
        strategy=st.sampled_from(strategies or NON_COLD + COLD),
        ratios=st.sampled_from(
            [(0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (0.5, 0.5, 0.0), (0.7, 0.0, 0.3)]
        ),
        gap_days=st.sampled_from([0.0, 1.0, 3.5]),
        seed=st.integers(0, 2**31 - 1),
    )


def _split_or_none(frame: pd.DataFrame, split: SplitSettings) -> SplitResult | None:
    """The split, or None when a temporal split legitimately leaves train empty."""
    try:
        return split_interactions(frame, split)
    except EmptyDataError:
        if split.strategy != "temporal":
            raise
        return None


@settings(max_examples=80, deadline=None)
@given(frame=frames(), split=split_settings())
def test_every_row_is_placed_once_or_counted(frame, split):
    result = _split_or_none(frame, split)
    assume(result is not None)
    out = result.interactions
    report = result.report
    assert out.index.tolist() == list(range(len(out)))
    assert out["row"].is_unique
    assert len(out) + sum(report["dropped"].values()) == len(frame) == report["input_rows"]
    assert set(out["split"]) <= {"train", "valid", "test"}
    assert report["rows"] == {s: int((out["split"] == s).sum()) for s in ("train", "valid", "test")}
    kept = frame.iloc[out["row"].to_numpy()].reset_index(drop=True)
    pd.testing.assert_frame_equal(out.drop(columns="split"), kept.drop(columns="split"))
    assert out["row"].is_monotonic_increasing  # input order kept


@settings(max_examples=50, deadline=None)
@given(frame=frames(), split=split_settings())
def test_same_seed_same_split(frame, split):
    first = _split_or_none(frame, split)
    assume(first is not None)
    second = split_interactions(frame.copy(), split)
    pd.testing.assert_frame_equal(first.interactions, second.interactions)
    assert first.report == second.report


@settings(max_examples=80, deadline=None)
@given(frame=frames(), split=split_settings())
def test_no_leakage_into_valid_or_test(frame, split):
    result = _split_or_none(frame, split)
    assume(result is not None)
    parts = _parts(result)
    train_pairs = set(parts["train"])
    held = parts["valid"] + parts["test"]
    assert not train_pairs & set(held)
    train_users = {u for u, _ in train_pairs}
    train_items = {i for _, i in train_pairs}
    held_users = {u for u, _ in held}
    held_items = {i for _, i in held}
    if split.strategy in NON_COLD:
        assert held_users <= train_users
        if split.strategy == "temporal":
            assert held_items <= train_items
    else:
        column = "user_id" if split.strategy == "cold-users" else "item_id"
        held_out = held_users if column == "user_id" else held_items
        assert not held_out & (train_users if column == "user_id" else train_items)
        # a held-out user (item) goes whole to valid or to test
        assert (result.interactions.groupby(column)["split"].nunique() == 1).all()


@settings(max_examples=80, deadline=None)
@given(frame=frames(), split=split_settings("temporal"))
def test_temporal_parts_are_separated_by_the_gap(frame, split):
    result = _split_or_none(frame, split)
    assume(result is not None)
    gap = split.gap_days * DAY
    train = result.train["timestamp"]
    valid = result.valid["timestamp"]
    test = result.test["timestamp"]
    if len(valid):
        assert train.max() < valid.min() - gap
    if len(test):
        assert train.max() < test.min() - gap
    if len(valid) and len(test):
        assert valid.max() < test.min() - gap


@settings(max_examples=50, deadline=None)
@given(frame=frames(), split=split_settings("random"))
def test_random_keeps_every_user_in_train(frame, split):
    result = split_interactions(frame, split)
    assert set(result.train["user_id"]) == set(frame["user_id"])


@settings(max_examples=50, deadline=None)
@given(frame=frames(), split=split_settings("leave-last-out"))
def test_leave_last_out_holds_out_each_users_latest(frame, split):
    result = split_interactions(frame, split)
    out = result.interactions
    for user, rows in out.groupby("user_id"):
        held = rows[rows["split"] != "train"]
        assert not held["split"].duplicated().any()
        train_last = rows.loc[rows["split"] == "train", "timestamp"].max()
        assert (held["timestamp"] >= train_last).all(), user
        if (frame["user_id"] == user).sum() < 3:
            assert held.empty


# --- large inputs ---------------------------------------------------------------------------


def _large_frame(seed: int = 0, n: int = 20_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 500, n).astype(str)
    items = rng.integers(0, 100, n).astype(str)
    frame = interactions_frame(users, items, timestamp=rng.permutation(n) * 60.0)
    return frame.drop_duplicates(["user_id", "item_id"]).reset_index(drop=True)


@pytest.mark.parametrize("strategy", ["random", "temporal", "cold-users", "cold-items"])
def test_ratios_are_respected_on_large_inputs(strategy):
    frame = _large_frame()
    split = SplitSettings(strategy=strategy, ratios=(0.7, 0.1, 0.2), gap_days=0.0)
    result = split_interactions(frame, split)
    n = len(frame)
    rows = result.report["rows"]
    assert sum(result.report["dropped"].values()) < 0.01 * n
    assert rows["train"] / n == pytest.approx(0.7, abs=0.03)
    assert rows["valid"] / n == pytest.approx(0.1, abs=0.03)
    assert rows["test"] / n == pytest.approx(0.2, abs=0.03)


def test_other_seed_other_split():
    frame = _large_frame()
    first = split_interactions(frame, SplitSettings(seed=1))
    second = split_interactions(frame, SplitSettings(seed=2))
    assert not first.interactions["split"].equals(second.interactions["split"])


def test_movielens_100k_leave_last_out(real_dataset):
    path = real_dataset("ml-100k") / "u.data"
    raw = pd.read_csv(path, sep="\t", header=None, names=["user", "item", "rating", "ts"])
    frame = interactions_frame(raw["user"], raw["item"], rating=raw["rating"], timestamp=raw["ts"])
    result = split_interactions(frame, SplitSettings(strategy="leave-last-out"))
    report = result.report
    assert report["input_rows"] == 100_000
    # every user has at least 20 ratings, so each gets one valid and one test row; items
    # never seen in train are kept and counted
    assert report["rows"]["test"] == report["rows"]["valid"] == 943
    assert report["kept_leaks"]["unseen_item"] > 0
    assert report["dropped"]["pair_in_train"] == 0  # MovieLens has one rating per pair
    assert report["rows"]["train"] == 100_000 - 2 * 943
