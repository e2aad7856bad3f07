"""Session sources: the sessionizer, DIGINETICA (real sample + small file), RetailRocket, the
generic event table and telling the layouts apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from storex.data.readers.sessions import (
    read_diginetica,
    read_retailrocket,
    read_session_events,
    read_session_file,
    session_layout,
    sessionize,
)
from storex.errors import DataError

DIGINETICA_HEADER = "session_id;user_id;item_id;timeframe;eventdate"


def test_sessionize_splits_on_gap_and_keeps_row_order() -> None:
    frame = pd.DataFrame(
        {"user_id": ["b", "a", "a", "a", "b", "a"], "timestamp": [0, 100, 0, 5000, 1000, 1950.0]},
        index=[10, 11, 12, 13, 14, 15],
    )
    out = sessionize(frame, gap_seconds=1800)
    assert out.index.tolist() == [10, 11, 12, 13, 14, 15]
    assert out["session_id"].tolist() == ["b:1", "a:1", "a:1", "a:3", "b:1", "a:2"]


def test_sessionize_gap_equal_to_limit_stays_in_session() -> None:
    frame = pd.DataFrame({"user_id": ["u", "u"], "timestamp": [0.0, 1800.0]})
    assert sessionize(frame, 1800)["session_id"].tolist() == ["u:1", "u:1"]


def test_sessionize_ids_do_not_depend_on_row_order() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"user_id": rng.integers(0, 20, 500).astype(str), "timestamp": rng.uniform(0, 1e5, 500)}
    )
    first = sessionize(frame, 600)
    shuffled = sessionize(frame.sample(frac=1.0, random_state=1), 600).loc[frame.index]
    pd.testing.assert_series_equal(first["session_id"], shuffled["session_id"])
    assert first["session_id"].nunique() > 20


def test_sessionize_refuses_missing_timestamps() -> None:
    frame = pd.DataFrame({"user_id": ["u", "u"], "timestamp": [0.0, np.nan]})
    with pytest.raises(DataError, match=r"column 'timestamp'.*1 row"):
        sessionize(frame, 60)


def test_real_diginetica_sample(real_dataset) -> None:
    data = read_diginetica(real_dataset("diginetica-sample/sample_train-item-views.csv"))
    inter = data.interactions
    assert len(inter) == 12391
    assert inter["session_id"].nunique() == 2986
    assert inter["item_id"].nunique() == 7139
    logged_in = ~inter["user_id"].str.startswith("anon-")
    assert logged_in.sum() == 4710 and inter.loc[logged_in, "user_id"].nunique() == 1270
    assert set(inter["event"]) == {"view"}
    days = pd.to_datetime(inter["timestamp"], unit="s").dt.date
    assert (days.min().isoformat(), days.max().isoformat()) == ("2016-01-03", "2016-06-01")
    assert inter["timestamp"].notna().all() and data.has_sessions


def test_diginetica_times_and_anonymous_users(tmp_path: Path) -> None:
    path = tmp_path / "views.csv"
    path.write_text(f"{DIGINETICA_HEADER}\n1;NA;81766;526309;2016-05-09\n2;77;3147;1500;2016-05-10")
    inter = read_diginetica(path).interactions
    midnight = pd.Timestamp("2016-05-09", tz="UTC").timestamp()
    assert inter["timestamp"].tolist() == [midnight + 526.309, midnight + 86400 + 1.5]
    assert inter["user_id"].tolist() == ["anon-1", "77"]
    assert inter["session_id"].tolist() == ["1", "2"]


def test_diginetica_bad_timeframe_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "views.csv"
    path.write_text(f"{DIGINETICA_HEADER}\n1;NA;5;10;2016-05-09\n1;NA;6;soon;2016-05-09\n")
    with pytest.raises(DataError, match=r"views\.csv, line 3, column 'timeframe'"):
        read_diginetica(path)


def test_diginetica_bad_date_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "views.csv"
    path.write_text(f"{DIGINETICA_HEADER}\n1;NA;5;10;09/05/2016\n")
    with pytest.raises(DataError, match=r"line 2, column 'eventdate': expected a date"):
        read_diginetica(path)


def test_diginetica_missing_column_lists_found(tmp_path: Path) -> None:
    path = tmp_path / "views.csv"
    path.write_text("session_id;user_id;item_id;eventdate\n1;NA;5;2016-05-09\n")
    with pytest.raises(DataError, match=r"missing column.*'timeframe'.*found"):
        read_diginetica(path)


def test_retailrocket_events_and_sessions(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "timestamp,visitorid,event,itemid,transactionid\n"
        "1433221332117,257597,view,355908,\n"
        "1433221500000,257597,addtocart,355908,\n"
        "1433224000000,257597,transaction,355908,4000\n"
        "1433221400000,992329,view,248676,\n"
        "1433221410000,992329,wishlist,248676,\n"
    )
    data = read_retailrocket(path, gap_minutes=30)
    inter = data.interactions
    assert inter["event"].tolist() == ["view", "cart", "purchase", "view", "wishlist"]
    assert inter["timestamp"].iloc[0] == pytest.approx(1433221332.117)
    assert inter["session_id"].tolist() == [
        "257597:1",
        "257597:1",
        "257597:2",
        "992329:1",
        "992329:1",
    ]
    assert data.read_issues["unknown_event"] == 1
    shorter = read_retailrocket(path, gap_minutes=1).interactions
    assert shorter["session_id"].tolist()[:3] == ["257597:1", "257597:2", "257597:3"]


def test_retailrocket_bad_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "timestamp,visitorid,event,itemid\n1433221332117,1,view,2\nyesterday,1,view,3\n"
    )
    with pytest.raises(DataError, match=r"events\.csv, line 3, column 'timestamp'"):
        read_retailrocket(path)


def test_diginetica_competition_header_spelling(tmp_path: Path) -> None:
    path = tmp_path / "train-item-views.csv"
    path.write_text("sessionId;userId;itemId;timeframe;eventdate\n1;;81766;526309;2016-05-09\n")
    assert session_layout(path) == "diginetica"
    inter = read_session_file(path).interactions
    assert inter["session_id"].tolist() == ["1"] and inter["user_id"].tolist() == ["anon-1"]
    midnight = pd.Timestamp("2016-05-09", tz="UTC").timestamp()
    assert inter["timestamp"].tolist() == [midnight + 526.309]


@pytest.mark.parametrize(
    ("header", "rows"),
    [
        ("session_id,item_id,timestamp", ["s1,a,1462752000", "s1,b,1462752060", "s2,a,1462753000"]),
        (
            "sessionId\titemId\ttime",
            ["s1\ta\t1462752000", "s1\tb\t1462752060", "s2\ta\t1462753000"],
        ),
        ("SessionID;ItemID;Timeframe", ["s1;a;1462752000", "s1;b;1462752060", "s2;a;1462753000"]),
        (
            "session,itemid,timestamp",
            ["s1,a,2016-05-09T00:00:00Z", "s1,b,2016-05-09T00:01:00Z", "s2,a,2016-05-09T00:16:40Z"],
        ),
    ],
)
def test_generic_session_table_spellings(tmp_path: Path, header: str, rows: list[str]) -> None:
    suffix = ".tsv" if "\t" in header else ".csv"
    path = tmp_path / f"clicks{suffix}"
    path.write_text("\n".join([header, *rows]) + "\n")
    assert session_layout(path) == "events"
    data = read_session_file(path)
    inter = data.interactions
    assert inter["session_id"].tolist() == ["s1", "s1", "s2"]
    assert inter["item_id"].tolist() == ["a", "b", "a"]
    assert inter["timestamp"].tolist() == [1462752000.0, 1462752060.0, 1462753000.0]
    assert set(inter["event"]) == {"view"} and data.name == "clicks"


def test_generic_table_without_sessions_is_sessionized_per_user(tmp_path: Path) -> None:
    path = tmp_path / "events.tsv"
    path.write_text(
        "user_id\titem_id\ttimestamp\tevent\n"
        "u1\ta\t1000\tclick\nu1\tb\t1100\tadd_to_cart\nu1\tc\t9000\tbuy\nu2\ta\t1000\twishlist\n"
    )
    data = read_session_events(path, gap_minutes=30)
    inter = data.interactions
    assert inter["session_id"].tolist() == ["u1:1", "u1:1", "u1:2", "u2:1"]
    assert inter["event"].tolist() == ["view", "cart", "purchase", "wishlist"]
    assert data.read_issues["unknown_event"] == 1


def test_generic_table_millisecond_times(tmp_path: Path) -> None:
    path = tmp_path / "clicks.csv"
    path.write_text("session_id,item_id,timestamp\ns,a,1433221332117\ns,b,1433221332999\n")
    assert read_session_events(path).interactions["timestamp"].tolist() == pytest.approx(
        [1433221332.117, 1433221332.999]
    )


def test_generic_table_bad_rows_name_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "clicks.csv"
    path.write_text("sessionId,itemId,time\ns,a,1000\ns,b,soon\ns,c,1200\n")
    with pytest.raises(DataError, match=r"clicks\.csv, line 3, column 'time': expected a time"):
        read_session_events(path)
    path.write_text("sessionId,itemId,time\ns,a,1000\ns,,1100\n")
    with pytest.raises(DataError, match=r"line 3, column 'itemId': empty value"):
        read_session_events(path)
    path.write_text("visit,product,when\n1,a,1000\n")
    with pytest.raises(DataError, match=r"missing column\(s\).*accepted spellings.*found"):
        read_session_events(path)


def test_layouts_are_told_apart(tmp_path: Path) -> None:
    retail = tmp_path / "events.csv"
    retail.write_text("timestamp,visitorid,event,itemid,transactionid\n1433221332117,1,view,2,\n")
    assert session_layout(retail) == "retailrocket"
    assert read_session_file(retail).interactions["session_id"].tolist() == ["1:1"]
    with pytest.raises(DataError, match="file not found"):
        session_layout(tmp_path / "absent.csv")


def test_generic_table_rows_without_session_are_dropped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "session_id,user_id,item_id,timestamp,event\n"
        "s1,u1,a,1000,view\n"
        ",u1,a,1050,rating\n"
        "s1,u1,b,1100,add_to_cart\n"
        "  ,u2,c,1200,rating\n"
        "s2,u2,c,1300,view\n"
    )
    data = read_session_events(path)
    inter = data.interactions
    assert inter["session_id"].tolist() == ["s1", "s1", "s2"]
    assert inter["item_id"].tolist() == ["a", "b", "c"]
    assert inter["event"].tolist() == ["view", "cart", "view"]
    assert data.read_issues["missing_session_dropped"] == 2


def test_generic_table_errors_after_dropped_rows_name_the_file_line(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("session_id,item_id,timestamp\n,a,1000\ns1,,1100\n")
    with pytest.raises(DataError, match=r"line 3, column 'item_id': empty value"):
        read_session_events(path)
    path.write_text("session_id,item_id,timestamp\n,a,1000\ns1,b,1100\ns1,c,later\n")
    with pytest.raises(DataError, match=r"line 4, column 'timestamp': expected a time"):
        read_session_events(path)
