"""Amazon reader: the real 2018 Gift Cards files and small 2018/2023 files written here."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from storex.data.readers.amazon import clean_categories, parse_prices, read_amazon
from storex.errors import DataError, MissingDataError

CSS = ".a-box-inner{background-color:#fff}#alohaBuyBoxWidget .selected{color:red}"


def write_lines(path: Path, records: list[object], *, gz: bool = False) -> Path:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def review_2018(user: str, item: str, rating: object = 5.0, t: int = 1_500_000_000) -> dict:
    return {"reviewerID": user, "asin": item, "overall": rating, "unixReviewTime": t, "x": "y"}


@pytest.fixture
def files_2018(tmp_path: Path) -> tuple[Path, Path]:
    reviews = write_lines(
        tmp_path / "Shop_5.json",
        [review_2018("u1", "A"), review_2018("u2", "A", 3.0), "", review_2018("u1", "B", 4)],
    )
    meta = write_lines(
        tmp_path / "meta_Shop.json",
        [
            {"asin": "A", "title": "Card &amp; box", "brand": "Acme", "price": "$1,250.00",
             "category": ["Gift Cards", "Gift Cards", "</span></span>"], "main_cat": "Gifts"},
            {"asin": "B", "title": "B", "brand": "", "price": CSS,
             "category": ["Gift Cards", "No expiration, no fees."], "main_cat": ""},
            {"asin": "C", "title": "Never reviewed", "brand": "Acme", "price": "",
             "category": [], "main_cat": "Gifts"},
            {"asin": "C", "title": "duplicate", "brand": "", "price": "", "category": []},
        ],
    )  # fmt: skip
    return reviews, meta


def test_real_gift_cards_counts_and_catalog(real_dataset) -> None:
    folder = real_dataset("amazon-gift-cards")
    data = read_amazon(folder / "Gift_Cards_5.json.gz", folder / "meta_Gift_Cards.json.gz")
    assert data.summary() == {"users": 458, "items": 148, "interactions": 2972}
    ratings = data.interactions["rating"].value_counts().sort_index().to_dict()
    assert ratings == {1.0: 22, 2.0: 11, 3.0: 33, 4.0: 154, 5.0: 2752}
    first = pd.Timestamp(data.interactions["timestamp"].min(), unit="s")
    assert first.date().isoformat() == "2012-01-31"
    items = data.items
    assert len(items) == 1547 and items["item_id"].is_unique
    reviewed = items[items["item_id"].isin(data.interactions["item_id"])]
    assert len(reviewed) == 148 and reviewed["title"].notna().all()
    assert items["price"].notna().sum() == 358
    assert (items["price"].min(), items["price"].max()) == (3.99, 1250.0)
    assert data.read_issues["junk_price"] == 4
    assert data.read_issues["reviewed_item_without_meta"] == 0
    levels = [level for cats in items["categories"] for level in cats]
    assert not any("<" in level or level.endswith(".") for level in levels)
    assert all(len(cats) == len(set(cats)) for cats in items["categories"])
    assert items["brand"].nunique() == 332


def test_2018_layout_streams_in_chunks(files_2018: tuple[Path, Path]) -> None:
    reviews, meta = files_2018
    whole = read_amazon(reviews, meta, chunk_size=100)
    chunked = read_amazon(reviews, meta, chunk_size=1)
    pd.testing.assert_frame_equal(whole.interactions, chunked.interactions)
    pd.testing.assert_frame_equal(whole.items, chunked.items)
    inter = whole.interactions
    assert inter["user_id"].tolist() == ["u1", "u2", "u1"]
    assert inter["rating"].tolist() == [5.0, 3.0, 4.0]
    assert inter["timestamp"].tolist() == [1.5e9] * 3
    items = whole.items.set_index("item_id")
    assert list(items.index) == ["A", "B", "C"]  # C has no review and stays in the catalog
    assert items.loc["A", "title"] == "Card & box"
    assert items.loc["A", "price"] == 1250.0 and np.isnan(items.loc["B", "price"])
    assert items.loc["A", "categories"] == ["Gift Cards"]
    assert items.loc["B", "categories"] == ["Gift Cards"]
    assert pd.isna(items.loc["B", "brand"]) and items.loc["C", "main_category"] == "Gifts"
    assert whole.read_issues == Counter(
        {"junk_price": 1, "category_level_dropped": 2, "duplicate_item_meta": 1}
    )


def test_2023_layout_gzip_parent_asin_and_milliseconds(tmp_path: Path) -> None:
    reviews = write_lines(
        tmp_path / "Toys.jsonl.gz",
        [
            {"user_id": "U1", "parent_asin": "P1", "asin": "X1", "rating": 4.0,
             "timestamp": 1634275259292, "text": "..."},
            {"user_id": "U2", "asin": "X2", "rating": 2, "timestamp": 1634275260000},
        ],
        gz=True,
    )  # fmt: skip
    meta = write_lines(
        tmp_path / "meta_Toys.jsonl.gz",
        [
            {"parent_asin": "P1", "title": "Robot", "categories": ["Toys", "Robots"],
             "store": "RoboCo", "price": 19.99, "details": {"Brand": "X"},
             "main_category": "Toys & Games"},
            {"parent_asin": "P9", "title": "Kite", "categories": [], "store": None,
             "price": None, "details": {"Brand": "Windy"}, "main_category": None},
        ],
        gz=True,
    )  # fmt: skip
    data = read_amazon(reviews, meta)
    inter = data.interactions
    assert inter["item_id"].tolist() == ["P1", "X2"]
    assert inter["timestamp"].tolist() == pytest.approx([1634275259.292, 1634275260.0])
    items = data.items.set_index("item_id")
    assert items.loc["P1", "brand"] == "RoboCo" and items.loc["P9", "brand"] == "Windy"
    assert items.loc["P1", "price"] == 19.99 and np.isnan(items.loc["P9", "price"])
    assert items.loc["P1", "categories"] == ["Toys", "Robots"]
    assert "X2" in items.index  # reviewed but without metadata: added and counted
    assert data.read_issues["reviewed_item_without_meta"] == 1


def test_reviews_without_meta_have_no_item_table(files_2018: tuple[Path, Path]) -> None:
    data = read_amazon(files_2018[0])
    assert data.items is None and len(data.interactions) == 3


def test_corrupt_gzip_names_file_and_line(tmp_path: Path) -> None:
    good = write_lines(
        tmp_path / "full.json.gz",
        [review_2018(f"u{i}", f"i{i % 7}", t=1_500_000_000 + i) for i in range(2000)],
        gz=True,
    )
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError) as err:
        read_amazon(broken)
    assert "broken.json.gz" in str(err.value) and "line" in str(err.value)
    assert err.value.line is not None and err.value.line > 1


def test_bad_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "r.json", [review_2018("u1", "A"), review_2018("u2", "A"), '{"reviewerID": ']
    )
    with pytest.raises(DataError, match=r"r\.json, line 3: not valid JSON"):
        read_amazon(path)


def test_non_numeric_rating_names_line_and_column(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "r.json", [review_2018("u1", "A"), review_2018("u2", "A", "great")]
    )
    with pytest.raises(DataError, match=r"r\.json, line 2, column 'overall': expected a number"):
        read_amazon(path, chunk_size=1)


def test_missing_item_id_is_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "r.json", [{"reviewerID": "u1", "overall": 5.0}])
    with pytest.raises(DataError, match=r"line 1, column 'asin'"):
        read_amazon(path)


def test_unknown_record_layout_lists_keys(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "r.json", [{"who": "u1", "what": "A"}])
    with pytest.raises(DataError, match=r"line 1: not an Amazon review record.*'what', 'who'"):
        read_amazon(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match=r"nothing\.json"):
        read_amazon(tmp_path / "nothing.json")


def test_parse_prices_formats_and_junk() -> None:
    issues: Counter[str] = Counter()
    values = pd.Series(["$1,250.00", " $3.99 ", "$10.99 - $25.00", CSS, "", None, 7, "12"])
    prices, junk = parse_prices(values, issues)
    expected = [1250.0, 3.99, 10.99, np.nan, np.nan, np.nan, 7.0, 12.0]
    np.testing.assert_array_equal(prices.to_numpy(), np.array(expected))
    assert junk == 1 and issues["price_range_low_end"] == 1


def test_clean_categories_drops_fragments_and_repeats() -> None:
    levels = [
        "Gift Cards",
        "Gift Cards",
        "</span></span></span>",
        "Redeemable toward millions of items storewide on Amazon.com.",
        "Handmade with recycled materials in Los Angeles",
        "Clothing, Shoes &amp; Jewelry",
        None,
    ]
    assert clean_categories(levels) == (["Gift Cards", "Clothing, Shoes & Jewelry"], 3)
