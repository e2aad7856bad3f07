import numpy as np
import pandas as pd
import pytest

from storex.idmap import IdMap


def test_indices_follow_first_appearance_and_are_stable():
    ids = IdMap(["b", "a", "b", "c"])
    assert ids.ids == ["b", "a", "c"]
    assert ids.index("a") == 1
    assert ids.add("d") == 3
    assert ids.add("a") == 1
    assert len(ids) == 4 and "d" in ids and "z" not in ids


def test_from_series_matches_incremental_build():
    series = pd.Series([5, 3, 5, 1, 3])
    assert IdMap.from_series(series) == IdMap(["5", "3", "1"])


def test_lookup_is_vectorised_and_marks_unknown():
    ids = IdMap(["x", "y"])
    np.testing.assert_array_equal(ids.lookup(["y", "q", "x"]), [1, -1, 0])


def test_save_load_round_trip(tmp_path):
    ids = IdMap([f"u{i}" for i in range(50)])
    ids.save(tmp_path / "user2idx.json")
    assert IdMap.load(tmp_path / "user2idx.json") == ids


def test_load_rejects_gaps(tmp_path):
    (tmp_path / "m.json").write_text('{"a": 0, "b": 2}')
    with pytest.raises(ValueError, match="contiguous"):
        IdMap.load(tmp_path / "m.json")
