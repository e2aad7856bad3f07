"""A shop's own tables: usual column spellings, explicit mapping, timestamps and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from storex.data.readers.tabular import parse_timestamps, read_tabular
from storex.errors import DataError, MissingDataError


def test_usual_spellings_and_text_ids(tmp_path: Path) -> None:
    path = tmp_path / "interactions.csv"
    path.write_text("userId,product_id,score,ts\n007,A1,4.5,1600000000\n8,A2,,1600000001\n")
    data = read_tabular(path)
    inter = data.interactions
    assert inter["user_id"].tolist() == ["007", "8"]  # ids stay text, leading zero kept
    assert inter["item_id"].tolist() == ["A1", "A2"]
    assert inter["rating"].iloc[0] == 4.5 and np.isnan(inter["rating"].iloc[1])
    assert inter["timestamp"].tolist() == [1.6e9, 1.6e9 + 1]
    assert inter["event"].iloc[0] == "rating" and pd.isna(inter["event"].iloc[1])


def test_explicit_mapping_wins(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("buyer,sku,user_id,when\nb1,s1,ignored,2024-01-02\n")
    data = read_tabular(path, mapping={"user_id": "buyer", "item_id": "sku", "timestamp": "when"})
    inter = data.interactions
    assert inter[["user_id", "item_id"]].iloc[0].tolist() == ["b1", "s1"]
    assert inter["timestamp"].iloc[0] == pd.Timestamp("2024-01-02", tz="UTC").timestamp()


def test_mapping_applies_to_side_tables_where_the_column_exists(tmp_path: Path) -> None:
    inter = tmp_path / "orders.csv"
    inter.write_text("buyer,sku\nb1,s1\n")
    items = tmp_path / "items.csv"
    items.write_text("sku,title\ns1,Mug\n")
    users = tmp_path / "users.csv"
    users.write_text("user_id,age\nb1,40\n")
    data = read_tabular(inter, items, users, mapping={"user_id": "buyer", "item_id": "sku"})
    assert data.items["item_id"].tolist() == ["s1"]
    assert data.users["user_id"].tolist() == ["b1"]


def test_mapping_to_absent_column_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("user,item\nu,i\n")
    with pytest.raises(DataError, match=r"'stars' for 'rating'.*found \['user', 'item'\]"):
        read_tabular(path, mapping={"rating": "stars"})
    with pytest.raises(DataError, match="unknown canonical column"):
        read_tabular(path, mapping={"rank": "user"})


def test_timestamps_milliseconds_iso_and_unparsable(tmp_path: Path) -> None:
    ms = tmp_path / "ms.tsv"
    ms.write_text("user\titem\tevent_time\nu\ti\t1600000000123\n")
    assert read_tabular(ms).interactions["timestamp"].iloc[0] == pytest.approx(1600000000.123)
    iso = tmp_path / "iso.csv"
    iso.write_text(
        "user,item,timestamp,event\n"
        "u,i,2024-03-01T10:00:00Z,view\nu,j,not a time,cart\nu,k,,view\nu,l,2024-03-01,view\n"
    )
    data = read_tabular(iso)
    stamps = data.interactions["timestamp"]
    assert stamps.iloc[0] == pd.Timestamp("2024-03-01T10:00:00Z").timestamp()
    assert np.isnan(stamps.iloc[1]) and np.isnan(stamps.iloc[2])
    assert stamps.iloc[3] == pd.Timestamp("2024-03-01", tz="UTC").timestamp()
    assert data.read_issues["unparsable_timestamp"] == 1  # the empty cell is missing, not bad
    assert data.interactions["event"].tolist() == ["view", "cart", "view", "view"]
    assert data.interactions["rating"].isna().all()


def test_parse_timestamps_seconds_stay_seconds() -> None:
    seconds, bad = parse_timestamps(pd.Series([0, 1_700_000_000]))
    assert seconds.tolist() == [0.0, 1.7e9] and bad == 0


def test_non_numeric_rating_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    path.write_text("customer_id,asin,overall\nc1,a1,5\nc2,a2,five\n")
    with pytest.raises(DataError) as err:
        read_tabular(path)
    assert str(err.value).startswith(f"{path}, line 3, column 'overall'")
    assert err.value.line == 3 and err.value.column == "overall"


def test_missing_required_columns_lists_what_was_found(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    path.write_text("customer,rating\nc1,5\n")
    with pytest.raises(DataError, match=r"missing required column\(s\) \['user_id', 'item_id'\]"):
        read_tabular(path)
    try:
        read_tabular(path)
    except DataError as exc:
        assert "found ['customer', 'rating']" in str(exc) and "shop.csv" in str(exc)


def test_empty_id_cell_names_line(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    path.write_text("user,item\nu1,i1\nu2,\n")
    with pytest.raises(DataError, match=r"line 3, column 'item'"):
        read_tabular(path)


def test_semicolon_csv_parquet_and_side_tables(tmp_path: Path) -> None:
    inter = tmp_path / "interactions.parquet"
    pd.DataFrame(
        {"session": ["s1", "s1"], "visitorid": ["v", "v"], "itemid": ["1", "2"],
         "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True)}
    ).to_parquet(inter)  # fmt: skip
    items = tmp_path / "items.csv"
    items.write_text(
        "item_id;name;category;price;colour\n1;Mug;Home|Kitchen;9.5;red\n2;Cup;;x;\n1;Dup;;;\n"
    )
    users = tmp_path / "users.tsv"
    users.write_text("user_id\tage\tsex\nv\t31\tF\n")
    with pytest.raises(DataError, match=r"items\.csv, line 3, column 'price'"):
        read_tabular(inter, items=items, users=users)
    items.write_text(
        "item_id;name;category;price;colour\n1;Mug;Home|Kitchen;9.5;red\n2;Cup;;;\n1;Dup;;;\n"
    )
    data = read_tabular(inter, items=items, users=users)
    assert data.interactions["session_id"].tolist() == ["s1", "s1"]
    assert data.interactions["timestamp"].iloc[1] - data.interactions["timestamp"].iloc[0] == 86400
    table = data.items.set_index("item_id")
    assert table.loc["1", "title"] == "Mug" and table.loc["1", "categories"] == ["Home", "Kitchen"]
    assert table.loc["1", "colour"] == "red" and table.loc["2", "categories"] == []
    assert len(table) == 2 and data.read_issues["duplicate_item_row"] == 1
    assert data.users.set_index("user_id").loc["v", "gender"] == "F"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match=r"nope\.csv"):
        read_tabular(tmp_path / "nope.csv")
