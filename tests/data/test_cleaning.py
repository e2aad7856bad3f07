"""Cleaning: each removal reason on a hand-checkable frame, k-core to a fixed point, positives."""

from __future__ import annotations

import gzip
import json
import logging
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from storex.config import CleaningSettings
from storex.data.cleaning import CleaningReport, clean
from storex.data.schema import StoreData, conform_items, conform_users, interactions_frame
from storex.errors import ConfigError, EmptyDataError

NAN = np.nan


def _data(users, items, **columns) -> StoreData:
    return StoreData("toy", interactions_frame(users, items, **columns))


def _pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame["user_id"], frame["item_id"], strict=True))


def test_missing_ids_are_dropped_and_counted_once_each():
    data = _data(["u1", None, "u2", None], ["i1", "i2", None, None], rating=[1, 2, 3, 4])
    out, report = clean(data, CleaningSettings())
    assert _pairs(out.interactions) == [("u1", "i1")]
    # a row missing both ids counts once, under the first reason
    assert report.dropped["missing_user_id"] == 2
    assert report.dropped["missing_item_id"] == 1
    assert report.total_dropped == 3
    assert (report.input_rows, report.output_rows) == (4, 1)


def test_out_of_range_ratings_are_dropped_but_missing_ratings_stay():
    data = _data(
        ["u1", "u2", "u3", "u4", "u5", "u6"],
        ["i1"] * 6,
        rating=[0.0, 5.0, 5.5, -1.0, NAN, np.inf],
    )
    out, report = clean(data, CleaningSettings(rating_range=(0.0, 5.0)))
    assert out.interactions["user_id"].tolist() == ["u1", "u2", "u5"]
    assert report.dropped["rating_out_of_range"] == 3


def test_pair_dedupe_keeps_latest_then_last_row():
    data = _data(
        ["u1", "u1", "u1", "u2", "u2", "u3", "u3"],
        ["i1", "i1", "i1", "i1", "i1", "i1", "i1"],
        rating=[1, 2, 3, 4, 5, 1, 2],
        # u1: the latest (t=30) wins although it is not last; u2: a tie goes to the later row;
        # u3: a row without time loses to one with time
        timestamp=[10, 30, 20, 5, 5, 40, NAN],
    )
    out, report = clean(data, CleaningSettings())
    got = dict(zip(out.interactions["user_id"], out.interactions["rating"], strict=True))
    assert got == {"u1": 2.0, "u2": 5.0, "u3": 1.0}
    assert report.dropped["duplicate_pair"] == 4
    assert out.interactions["user_id"].tolist() == ["u1", "u2", "u3"]  # input order kept


def test_exact_dedupe_drops_only_identical_rows():
    data = _data(
        ["u1", "u1", "u1", "u1"],
        ["i1", "i1", "i1", "i1"],
        timestamp=[10, 10, 11, NAN],
        session_id=["s1", "s1", "s1", "s1"],
    )
    data.interactions.loc[4] = data.interactions.loc[3]  # an identical row with missing values
    out, report = clean(data, CleaningSettings(), dedupe="exact")
    assert out.interactions["timestamp"].tolist()[:2] == [10.0, 11.0]
    assert len(out.interactions) == 3
    assert report.dropped["duplicate_exact"] == 2
    assert "duplicate_pair" not in report.dropped


def test_no_dedupe_keeps_repeats():
    data = _data(["u1", "u1"], ["i1", "i1"], timestamp=[1, 1])
    out, report = clean(data, CleaningSettings(), dedupe="none")
    assert len(out.interactions) == 2
    assert report.total_dropped == 0


def test_unknown_dedupe_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="dedupe"):
        clean(_data(["u"], ["i"]), CleaningSettings(), dedupe="fuzzy")  # type: ignore[arg-type]


def test_inverted_rating_range_is_a_config_error():
    with pytest.raises(ConfigError, match="rating_range"):
        clean(_data(["u"], ["i"]), CleaningSettings(rating_range=(5.0, 1.0)))


def test_read_issues_are_folded_in_and_unparsable_timestamp_rows_kept():
    data = _data(["u1", "u2"], ["i1", "i1"], timestamp=[NAN, 3.0])
    data.read_issues = Counter({"unparsable_timestamp": 1})
    out, report = clean(data, CleaningSettings())
    assert len(out.interactions) == 2
    assert report.read_issues == {"unparsable_timestamp": 1}
    assert report.total_dropped == 0
    assert out.read_issues == data.read_issues and out.read_issues is not data.read_issues


def test_k_core_iterates_to_a_fixed_point():
    # a,b x x,y form a 2-core. c has (c,x) and (c,z); z has one row, so round 1 removes (c,z),
    # which leaves c with one row: round 2 removes (c,x). Round 3 finds nothing.
    data = _data(
        ["a", "a", "b", "b", "c", "c"],
        ["x", "y", "x", "y", "x", "z"],
    )
    out, report = clean(data, CleaningSettings(k_core=2))
    assert sorted(_pairs(out.interactions)) == [("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")]
    assert report.k_core_rounds == 2
    assert report.k_core_steps == [
        {"round": 1, "rows": 1, "users": 0, "items": 1},
        {"round": 2, "rows": 1, "users": 1, "items": 0},
    ]
    assert report.dropped["k_core"] == 2
    users = out.interactions["user_id"].value_counts()
    items = out.interactions["item_id"].value_counts()
    assert users.min() >= 2 and items.min() >= 2


def test_k_core_already_satisfied_takes_no_round():
    data = _data(["a", "a", "b", "b"], ["x", "y", "x", "y"])
    _, report = clean(data, CleaningSettings(k_core=2))
    assert (report.k_core_rounds, report.dropped["k_core"]) == (0, 0)


def test_k_core_counts_rows_after_dedupe():
    # with pair dedupe, a user rating one item twice has one interaction
    data = _data(["a", "a", "b", "b"], ["x", "x", "x", "y"], timestamp=[1, 2, 1, 1])
    with pytest.raises(EmptyDataError):
        clean(data, CleaningSettings(k_core=2))
    # without dedupe, the repeat gives a two rows and (a, x) survives as the 2-core
    out, report = clean(data, CleaningSettings(k_core=2), dedupe="none")
    assert _pairs(out.interactions) == [("a", "x"), ("a", "x")]
    assert report.k_core_rounds == 2


def test_k_core_that_empties_everything_names_step_and_k():
    data = _data(["a", "b", "c"], ["x", "y", "z"])
    with pytest.raises(EmptyDataError, match=r"k_core.*k=3"):
        clean(data, CleaningSettings(k_core=3))


def test_a_check_that_empties_everything_is_named():
    data = _data(["a", "b"], ["x", "y"], rating=[9, 10])
    with pytest.raises(EmptyDataError, match="rating_out_of_range"):
        clean(data, CleaningSettings())


def test_no_interactions_at_all_is_empty_data():
    with pytest.raises(EmptyDataError, match="no interactions"):
        clean(_data([], []), CleaningSettings())


def test_implicit_conversion_keeps_raw_rating():
    data = _data(["u1", "u2", "u3", "u4"], ["i1"] * 4, rating=[1.0, 3.0, 4.0, NAN])
    out, report = clean(data, CleaningSettings(implicit_threshold=3.0))
    inter = out.interactions
    assert inter["positive"].dtype == bool
    assert inter["positive"].tolist() == [False, True, True, True]
    assert inter["rating"].tolist()[:3] == [1.0, 3.0, 4.0]
    cols = list(inter.columns)
    assert cols.index("positive") == cols.index("rating") + 1
    assert report.positives == 3
    assert report.output_rows == 4  # negatives are marked, never dropped


def test_no_threshold_makes_every_row_positive():
    out, _ = clean(_data(["u1", "u2"], ["i1", "i1"], rating=[1.0, NAN]), CleaningSettings())
    assert out.interactions["positive"].tolist() == [True, True]


def test_catalog_and_users_tables_are_kept_whole():
    items = conform_items(pd.DataFrame({"item_id": ["x", "y", "cold"]}))
    users = conform_users(pd.DataFrame({"user_id": ["a", "b", "ghost"]}))
    data = StoreData("toy", interactions_frame(["a", "b", "c"], ["x", "y", "y"]), items, users)
    out, _ = clean(data, CleaningSettings(k_core=1))
    assert out.items is not None and out.items["item_id"].tolist() == ["x", "y", "cold"]
    assert out.users is not None and out.users["user_id"].tolist() == ["a", "b", "ghost"]
    assert len(data.interactions) == 3 and "positive" not in data.interactions  # input untouched


def test_report_is_json_ready_and_logged_once(caplog):
    data = _data(["u1", "u1", None], ["i1", "i1", "i2"], timestamp=[1, 2, 3])
    with caplog.at_level(logging.INFO, logger="storex.data.cleaning"):
        _, report = clean(data, CleaningSettings())
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["dropped"] == {
        "missing_user_id": 1,
        "missing_item_id": 0,
        "rating_out_of_range": 0,
        "duplicate_pair": 1,
    }
    assert payload["total_dropped"] == 2 and payload["output_rows"] == 1
    records = [r for r in caplog.records if r.name == "storex.data.cleaning"]
    assert len(records) == 1
    assert "3 -> 1 rows" in records[0].getMessage()
    assert "duplicate_pair=1" in records[0].getMessage()


def test_report_total_is_sum_of_reasons():
    report = CleaningReport(dataset="d", input_rows=10, dropped={"a": 2, "b": 3})
    assert report.total_dropped == 5


def test_rows_are_conserved_on_random_frames():
    rng = np.random.default_rng(7)
    n = 5_000
    users = rng.integers(0, 300, n).astype(str).astype(object)
    users[rng.random(n) < 0.01] = None
    data = _data(
        users,
        rng.integers(0, 200, n).astype(str),
        rating=rng.integers(-1, 7, n).astype(float),
        timestamp=rng.integers(0, 50, n).astype(float),
    )
    out, report = clean(data, CleaningSettings(k_core=5))
    inter = out.interactions
    assert report.output_rows + report.total_dropped == n == report.input_rows
    assert len(inter) == report.output_rows
    assert not inter.duplicated(["user_id", "item_id"]).any()
    assert inter["user_id"].value_counts().min() >= 5
    assert inter["item_id"].value_counts().min() >= 5
    assert inter["rating"].between(0, 5).all()


def test_amazon_gift_cards_has_seven_repeated_pairs(real_dataset):
    path = real_dataset("amazon-gift-cards") / "Gift_Cards_5.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    data = _data(
        [r["reviewerID"] for r in rows],
        [r["asin"] for r in rows],
        rating=[r["overall"] for r in rows],
        timestamp=[r["unixReviewTime"] for r in rows],
    )
    out, report = clean(data, CleaningSettings(rating_range=(1.0, 5.0), implicit_threshold=4.0))
    assert report.input_rows == 2_972
    assert report.dropped["duplicate_pair"] == 7
    assert report.output_rows == 2_965
    assert report.positives == int((out.interactions["rating"] >= 4).sum())
