"""Catalog: data sets by name (real data) and by path (layouts written here)."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from storex.data.catalog import (
    DATASET_NAMES,
    describe_datasets,
    detect_layout,
    load_dataset,
)
from storex.errors import DataError, MissingDataError


@pytest.fixture(autouse=True)
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep a developer's real download cache out of these tests."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("STOREX_CACHE_DIR", str(cache))
    return cache


@pytest.mark.parametrize(
    ("name", "folder", "summary"),
    [
        ("ml-100k", "ml-100k", {"users": 943, "items": 1682, "interactions": 100000}),
        ("lightgcnpp-lastfm", "lightgcnpp/lastfm", {"users": 1885, "items": 17388,
                                                    "interactions": 91779}),
        ("amazon-gift-cards", "amazon-gift-cards", {"users": 458, "items": 148,
                                                    "interactions": 2972}),
        ("diginetica-sample", "diginetica-sample", {"users": 2994, "items": 7139,
                                                    "interactions": 12391}),
    ],
)  # fmt: skip
def test_named_real_datasets(real_dataset, data_dir: Path, name: str, folder: str, summary) -> None:
    real_dataset(folder)
    data = load_dataset(name, data_dir=data_dir)
    assert data.name == name
    assert data.summary() == summary


def test_real_amazon_folder_uses_meta_beside(real_dataset) -> None:
    data = load_dataset(real_dataset("amazon-gift-cards"))
    assert data.items is not None and len(data.items) == 1547


def write_layouts(root: Path) -> dict[str, Path]:
    """One tiny folder per supported layout."""
    made = {}
    ml = root / "ml"
    ml.mkdir()
    (ml / "ratings.dat").write_text("1::10::5::978300760\n")
    made["movielens"] = ml
    lg = root / "lg"
    lg.mkdir()
    (lg / "train.txt").write_text("0 1 2\n")
    (lg / "test.txt").write_text("0 3\n")
    made["lightgcn"] = lg
    amazon = root / "amazon"
    amazon.mkdir()
    review = {"reviewerID": "u", "asin": "A", "overall": 5.0, "unixReviewTime": 1}
    with gzip.open(amazon / "Shop_5.json.gz", "wt") as handle:
        handle.write(json.dumps(review) + "\n")
    with gzip.open(amazon / "meta_Shop.json.gz", "wt") as handle:
        handle.write(json.dumps({"asin": "A", "title": "T"}) + "\n")
        handle.write(json.dumps({"asin": "B", "title": "U"}) + "\n")
    made["amazon"] = amazon
    dg = root / "dg"
    dg.mkdir()
    (dg / "views.csv").write_text(
        "session_id;user_id;item_id;timeframe;eventdate\n1;NA;5;10;2016-05-09"
    )
    made["diginetica"] = dg
    rr = root / "rr"
    rr.mkdir()
    (rr / "events.csv").write_text("timestamp,visitorid,event,itemid,transactionid\n1,2,view,3,\n")
    made["retailrocket"] = rr
    tab = root / "tab"
    tab.mkdir()
    (tab / "interactions.csv").write_text("user_id,item_id,rating\nu,i,3\n")
    (tab / "items.csv").write_text("item_id,title\ni,Mug\nj,Cup\n")
    made["tabular"] = tab
    return made


def test_detect_and_load_every_layout(tmp_path: Path) -> None:
    layouts = write_layouts(tmp_path)
    for layout, folder in layouts.items():
        assert detect_layout(folder) == layout, folder
        data = load_dataset(folder)
        assert len(data.interactions) >= 1, layout
    assert len(load_dataset(layouts["amazon"]).items) == 2  # meta_Shop beside Shop_5 was used
    assert len(load_dataset(layouts["tabular"]).items) == 2  # items.csv beside interactions.csv
    rr = load_dataset(layouts["retailrocket"], session_gap_minutes=5)
    assert rr.interactions["session_id"].tolist() == ["2:1"]


def test_detect_layout_of_single_files(tmp_path: Path) -> None:
    layouts = write_layouts(tmp_path)
    assert detect_layout(layouts["amazon"] / "Shop_5.json.gz") == "amazon"
    assert detect_layout(layouts["diginetica"] / "views.csv") == "diginetica"
    assert detect_layout(layouts["retailrocket"] / "events.csv") == "retailrocket"
    assert detect_layout(layouts["movielens"] / "ratings.dat") == "movielens"
    assert detect_layout(layouts["tabular"] / "items.csv") == "tabular"
    with pytest.raises(DataError, match="metadata file"):
        detect_layout(layouts["amazon"] / "meta_Shop.json.gz")


def test_unrecognised_folder_lists_its_files(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("hello")
    with pytest.raises(DataError, match=r"layout not recognised.*notes\.md"):
        load_dataset(tmp_path)


def test_unknown_name_lists_names_and_where_to_put_files(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError) as err:
        load_dataset("movielens-7", data_dir=tmp_path)
    message = str(err.value)
    assert all(name in message for name in DATASET_NAMES)
    assert str(tmp_path) in message and "STOREX_DATA_DIR" in message
    assert "storex data download" in message


def test_missing_named_folder_says_where(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError) as err:
        load_dataset("ml-1m", data_dir=tmp_path)
    message = str(err.value)
    assert str(tmp_path / "ml-1m") in message and "storex data download ml-1m" in message
    assert "lightgcnpp-lastfm" in message and "STOREX_DATA_DIR" in message


def test_named_dataset_found_in_data_dir_or_cache(tmp_path: Path, empty_cache: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "ml-1m").mkdir(parents=True)
    (data_dir / "ml-1m" / "ratings.dat").write_text("1::10::5::978300760\n2::10::4::978300761\n")
    assert len(load_dataset("ml-1m", data_dir=data_dir).interactions) == 2
    cached = empty_cache / "amazon-2023" / "Toys"
    cached.mkdir(parents=True)
    review = {"user_id": "u", "parent_asin": "P", "rating": 4, "timestamp": 1_700_000_000_000}
    with gzip.open(cached / "Toys.jsonl.gz", "wt") as handle:
        handle.write(json.dumps(review) + "\n")
    data = load_dataset("amazon-2023:Toys", data_dir=data_dir)
    assert data.name == "amazon-2023:Toys" and data.interactions["timestamp"].iloc[0] == 1.7e9


def test_describe_datasets(tmp_path: Path) -> None:
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data").write_text("1\t2\t3\t4\n")
    rows = {row["name"]: row for row in describe_datasets(tmp_path)}
    assert set(DATASET_NAMES) <= set(rows)
    assert rows["ml-100k"]["status"] == "present"
    assert rows["ml-100k"]["path"] == str(tmp_path / "ml-100k")
    assert rows["ml-1m"]["status"] == "downloadable"
    assert rows["lightgcnpp-ml-1m"]["status"] == "missing"
    assert all(row["description"] for row in rows.values())


def test_synthetic_name(tmp_path: Path) -> None:
    if importlib.util.find_spec("storex.data.synthetic") is None:
        pytest.skip("storex.data.synthetic is not there yet")
    synthetic = pytest.importorskip("storex.data.synthetic")
    if not hasattr(synthetic, "generate_store"):
        pytest.skip("storex.data.synthetic has no generate_store yet")
    data = load_dataset("synthetic", data_dir=tmp_path)
    assert len(data.interactions) > 0 and data.items is not None


@pytest.mark.parametrize(
    "header",
    [
        "sessionId;userId;itemId;timeframe;eventdate",  # the competition's train-item-views.csv
        "session_id;user_id;item_id;timeframe;eventdate",  # the SR-GNN sample
    ],
)
def test_diginetica_is_recognised_in_either_spelling(tmp_path: Path, header: str) -> None:
    (tmp_path / "train-item-views.csv").write_text(f"{header}\n1;NA;5;10;2016-05-09\n")
    assert detect_layout(tmp_path / "train-item-views.csv") == "diginetica"
    assert detect_layout(tmp_path) == "diginetica"
    data = load_dataset(tmp_path)
    assert data.interactions["session_id"].tolist() == ["1"]
    assert data.interactions["user_id"].tolist() == ["anon-1"]


def test_a_table_with_only_some_retailrocket_columns_is_tabular(tmp_path: Path) -> None:
    (tmp_path / "clicks.csv").write_text("visitorid,event,item_id,user_id\n2,view,3,u\n")
    assert detect_layout(tmp_path / "clicks.csv") == "tabular"
