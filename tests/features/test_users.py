"""UserEncoder: demographics, train-only history statistics, cold start, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from storex.errors import DataError, EmptyDataError, ModelError, NotFittedError
from storex.features import UserEncoder


def users_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3", "u4", "u5"],
            "age": [20.0, 30.0, 40.0, None, 60.0],
            "gender": ["M", "F", "f ", None, "M"],
            "occupation": ["student", "engineer", "student", "artist", None],
            "zip": ["02139", "94043", "T8H1N", None, "55105"],
        }
    )


def train() -> pd.DataFrame:
    """u1: 3 ratings (mean 4), u2: 1 rating (2), u3: 2 ratings (mean 3); u4, u5: none."""
    return pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u3", "u3"],
            "item_id": ["a", "b", "c", "a", "b", "d"],
            "rating": [5.0, 4.0, 3.0, 2.0, 4.0, 2.0],
        }
    )


def column(encoder: UserEncoder, matrix: np.ndarray, name: str) -> np.ndarray:
    return matrix[:, encoder.feature_names_.index(name)]


def columns(encoder: UserEncoder, matrix: np.ndarray, *names: str) -> np.ndarray:
    return matrix[:, [encoder.feature_names_.index(name) for name in names]]


def test_names_shape_and_dtype() -> None:
    encoder = UserEncoder().fit(users_table(), train())
    matrix = encoder.transform(users_table(), ["u1", "u2", "u3", "u4", "u5"], train())
    assert matrix.dtype == np.float32
    assert matrix.shape == (5, encoder.n_features_)
    assert encoder.feature_names_ == [
        "age_z",
        "age_missing",
        "gender=f",  # two of each: ties are ordered by name
        "gender=m",
        "gender_missing",
        "occupation=student",
        "occupation=artist",
        "occupation=engineer",
        "occupation_other",
        "occupation_missing",
        "history_log_count_z",
        "no_history",
        "avg_rating_z",
    ]
    assert not any(n.startswith("zip") for n in encoder.feature_names_)


def test_age_is_standardised_with_fit_statistics_only() -> None:
    encoder = UserEncoder().fit(users_table(), train())
    others = pd.DataFrame({"user_id": ["x", "y"], "age": [80.0, None]})
    matrix = encoder.transform(others, ["x", "y"])
    ages = np.array([20.0, 30.0, 40.0, 60.0])
    np.testing.assert_allclose(
        column(encoder, matrix, "age_z"), [(80 - ages.mean()) / ages.std(), 0], rtol=1e-6
    )
    assert column(encoder, matrix, "age_missing").tolist() == [0, 1]


def test_categorical_demographics_unseen_and_missing() -> None:
    encoder = UserEncoder(max_occupations=1).fit(users_table(), train())
    assert "occupation=engineer" not in encoder.feature_names_
    new = pd.DataFrame(
        {
            "user_id": ["p", "q", "r"],
            "gender": ["F", "X", None],
            "occupation": ["Student", "pilot", None],
        }
    )
    matrix = encoder.transform(new, ["p", "q", "r"])
    gender = columns(encoder, matrix, "gender=f", "gender=m", "gender_missing")
    np.testing.assert_array_equal(gender, [[1, 0, 0], [0, 0, 0], [0, 0, 1]])
    occupation = columns(
        encoder, matrix, "occupation=student", "occupation_other", "occupation_missing"
    )
    np.testing.assert_array_equal(occupation, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])


def test_zip_prefix_is_optional() -> None:
    encoder = UserEncoder(use_zip=True).fit(users_table(), train())
    matrix = encoder.transform(users_table(), ["u1", "u2", "u3", "u4"])
    assert column(encoder, matrix, "zip_digit=0").tolist() == [1, 0, 0, 0]
    assert column(encoder, matrix, "zip_digit=9").tolist() == [0, 1, 0, 0]
    assert column(encoder, matrix, "zip_digit_other").tolist() == [0, 0, 1, 0]
    assert column(encoder, matrix, "zip_digit_missing").tolist() == [0, 0, 0, 1]


def test_history_size_uses_train_statistics_over_all_known_users() -> None:
    encoder = UserEncoder().fit(users_table(), train())
    logs = np.log1p([3.0, 1.0, 2.0, 0.0, 0.0])  # u4 and u5 have no training history
    later = pd.DataFrame({"user_id": ["u1"] * 9, "item_id": list("abcdefghi")})
    matrix = encoder.transform(users_table(), ["u1", "u2", "u5"], later)
    expected = (np.log1p([9.0, 0.0, 0.0]) - logs.mean()) / logs.std()
    np.testing.assert_allclose(column(encoder, matrix, "history_log_count_z"), expected, rtol=1e-6)
    assert column(encoder, matrix, "no_history").tolist() == [0, 1, 1]


def test_average_rating_comes_from_train_only() -> None:
    held_out = pd.DataFrame(
        {"user_id": ["u1", "u2", "u4"], "item_id": ["z", "z", "z"], "rating": [1.0, 5.0, 1.0]}
    )
    encoder = UserEncoder().fit(users_table(), train())
    matrix = encoder.transform(users_table(), ["u1", "u2", "u3", "u4"], train())
    user_means = np.array([4.0, 2.0, 3.0])
    global_mean = 20.0 / 6.0  # every training rating, not the held-out ones
    expected = (np.array([4.0, 2.0, 3.0, global_mean]) - user_means.mean()) / user_means.std()
    np.testing.assert_allclose(column(encoder, matrix, "avg_rating_z"), expected, rtol=1e-6)
    leaked = UserEncoder().fit(users_table(), pd.concat([train(), held_out]))
    assert leaked.global_rating_ != pytest.approx(encoder.global_rating_)
    assert encoder.global_rating_ == pytest.approx(global_mean)


def test_rows_marked_valid_or_test_are_refused() -> None:
    marked = pd.concat(
        [
            train().assign(split="train"),
            pd.DataFrame({"user_id": ["u1"], "item_id": ["z"], "rating": [1.0], "split": ["test"]}),
        ]
    )
    with pytest.raises(DataError, match=r"column 'split'.*1 row"):
        UserEncoder().fit(users_table(), marked)
    encoder = UserEncoder().fit(users_table(), marked[marked["split"] == "train"])
    with pytest.raises(DataError, match=r"split"):
        encoder.transform(users_table(), ["u1"], marked)


def test_cold_start_user_with_demographics_only() -> None:
    encoder = UserEncoder(use_zip=True).fit(users_table(), train())
    newcomer = pd.DataFrame(
        {
            "user_id": ["new"],
            "age": [30.0],
            "gender": ["F"],
            "occupation": ["engineer"],
            "zip": ["9"],
        }
    )
    row = dict(zip(encoder.feature_names_, encoder.transform(newcomer, ["new"])[0], strict=True))
    known = dict(
        zip(encoder.feature_names_, encoder.transform(users_table(), ["u2"])[0], strict=True)
    )
    demographics = [
        n for n in encoder.feature_names_ if not n.startswith(("history", "no_", "avg"))
    ]
    assert {n: row[n] for n in demographics} == {n: known[n] for n in demographics}
    assert row["no_history"] == 1
    assert row["avg_rating_z"] == pytest.approx(
        (encoder.global_rating_ - 3.0) / np.std([4.0, 2.0, 3.0]), rel=1e-6
    )


def test_unknown_user_gets_missing_flags_and_rows_follow_ids() -> None:
    encoder = UserEncoder().fit(users_table(), train())
    matrix = encoder.transform(users_table(), ["u3", "ghost", "u1"], train())
    full = encoder.transform(users_table(), ["u1", "u2", "u3"], train())
    np.testing.assert_array_equal(matrix[[0, 2]], full[[2, 0]])
    ghost = dict(zip(encoder.feature_names_, matrix[1], strict=True))
    for flag in ("age_missing", "gender_missing", "occupation_missing", "no_history"):
        assert ghost[flag] == 1


def test_without_users_table_or_ratings() -> None:
    implicit = train().drop(columns="rating")
    encoder = UserEncoder().fit(None, implicit)
    assert encoder.feature_names_ == ["history_log_count_z", "no_history"]
    matrix = encoder.transform(None, ["u1", "u9"], implicit)
    assert matrix.shape == (2, 2)
    assert column(encoder, matrix, "no_history").tolist() == [0, 1]


def test_bad_input() -> None:
    with pytest.raises(EmptyDataError):
        UserEncoder().fit(None, train().head(0))
    with pytest.raises(DataError, match=r"user_id"):
        UserEncoder().fit(users_table(), train().drop(columns="user_id"))
    with pytest.raises(DataError, match=r"duplicated"):
        UserEncoder().fit(pd.concat([users_table(), users_table().head(1)]), train())
    with pytest.raises(DataError, match=r"column 'age'.*negative"):
        UserEncoder().fit(users_table().assign(age=-1.0), train())


def test_use_before_fit_raises_not_fitted(tmp_path: Path) -> None:
    with pytest.raises(NotFittedError):
        UserEncoder().transform(users_table(), ["u1"])
    with pytest.raises(NotFittedError):
        UserEncoder().save(tmp_path)


def test_save_load_round_trip(tmp_path: Path) -> None:
    encoder = UserEncoder(use_zip=True, max_occupations=2).fit(users_table(), train())
    ids = ["u5", "u1", "nobody", "u3"]
    before = encoder.transform(users_table(), ids, train())
    encoder.save(tmp_path)
    loaded = UserEncoder.load(tmp_path)
    assert (loaded.use_zip, loaded.max_occupations) == (True, 2)
    assert loaded.feature_names_ == encoder.feature_names_
    np.testing.assert_allclose(loaded.transform(users_table(), ids, train()), before, atol=1e-6)


def test_missing_or_damaged_state_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"user_encoder.json"):
        UserEncoder.load(tmp_path)
    UserEncoder().fit(users_table(), train()).save(tmp_path)
    path = tmp_path / "user_encoder.json"
    path.write_text(path.read_text().replace('"history"', '"hist"'))
    with pytest.raises(ModelError, match=r"user_encoder.json"):
        UserEncoder.load(tmp_path)


def _read_ratings(path: Path) -> pd.DataFrame:
    names = ["user_id", "item_id", "rating", "timestamp"]
    return pd.read_csv(
        path, sep="\t", header=None, names=names, dtype={"user_id": str, "item_id": str}
    )


@pytest.mark.realdata
def test_movielens_100k_users(real_dataset) -> None:
    folder = real_dataset("ml-100k")
    users = pd.read_csv(
        folder / "u.user",
        sep="|",
        header=None,
        names=["user_id", "age", "gender", "occupation", "zip"],
        dtype=str,
    )
    base, test = _read_ratings(folder / "u1.base"), _read_ratings(folder / "u1.test")
    encoder = UserEncoder(use_zip=True).fit(users, base)
    ids = users["user_id"].tolist()
    matrix = encoder.transform(users, ids, base)
    assert matrix.shape == (943, encoder.n_features_)
    assert np.isfinite(matrix).all()
    assert len([n for n in encoder.feature_names_ if n.startswith("occupation=")]) == 21
    assert column(encoder, matrix, "gender=m").sum() == 670
    per_user = base.groupby("user_id")["rating"].mean()
    assert encoder.global_rating_ == pytest.approx(base["rating"].mean())
    assert encoder.global_rating_ != pytest.approx(pd.concat([base, test])["rating"].mean())
    z = column(encoder, matrix, "avg_rating_z")
    rated = per_user.reindex(ids).notna().to_numpy()
    expected = (per_user.reindex(ids).to_numpy()[rated] - per_user.mean()) / per_user.std(ddof=0)
    np.testing.assert_allclose(z[rated], expected, rtol=1e-4, atol=1e-5)
