"""MovieLens reader: the real 100K release and small 100K/1M folders written here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from storex.data.readers.movielens import read_movielens
from storex.errors import DataError, MissingDataError


@pytest.fixture
def ml100k_small(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text(
        "1\t10\t4\t881250949\n2\t10\t5\t881250950\n1\t20\t1\t881250951\n"
    )
    genres = ["unknown", "Action", "Comedy"]
    (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(genres)) + "\n")
    (folder / "u.item").write_bytes(
        "10|Misérables, Les (1995)|01-Jan-1995||http://x/10|0|1|1\n20|unknown||||1|0|0\n".encode(
            "latin-1"
        )
    )
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|T8H1N\n")
    return folder


@pytest.fixture
def ml1m_small(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "ratings.dat").write_text(
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n"
    )
    (folder / "movies.dat").write_bytes(
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "661::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure|Sci-Fi\n"
        "5::Misérables, Les (1995)::Drama|Musical\n".encode("latin-1")
    )
    (folder / "users.dat").write_text(
        "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::99::55117\n"
    )
    return folder


def test_real_ml100k_counts_demographics_and_genres(real_dataset) -> None:
    data = read_movielens(real_dataset("ml-100k"))
    assert data.summary() == {"users": 943, "items": 1682, "interactions": 100000}
    counts = data.interactions["rating"].value_counts().sort_index().to_dict()
    assert counts == {1.0: 6110, 2.0: 11370, 3.0: 27145, 4.0: 34174, 5.0: 21201}
    assert set(data.interactions["event"]) == {"rating"}
    start = pd.Timestamp(data.interactions["timestamp"].min(), unit="s")
    assert start.date().isoformat() == "1997-09-20"
    users = data.users.set_index("user_id")
    assert len(users) == 943
    assert users["gender"].value_counts().to_dict() == {"M": 670, "F": 273}
    assert users["occupation"].nunique() == 21
    assert (users["age"].min(), users["age"].max()) == (7.0, 73.0)
    items = data.items.set_index("item_id")
    assert len(items) == 1682
    assert items.loc["1", "categories"] == ["Animation", "Children's", "Comedy"]
    assert items.loc["1", "year"] == 1995
    assert items.loc["543", "title"] == "Misérables, Les (1995)"
    assert items.loc["267", "title"] == "unknown" and pd.isna(items.loc["267", "url"])
    assert items["url"].notna().sum() > 1600


def test_100k_layout_from_small_folder(ml100k_small: Path) -> None:
    data = read_movielens(ml100k_small)
    assert data.name == "ml-100k"
    assert data.interactions["user_id"].tolist() == ["1", "2", "1"]
    assert data.interactions["rating"].tolist() == [4.0, 5.0, 1.0]
    items = data.items.set_index("item_id")
    assert items.loc["10", "categories"] == ["Action", "Comedy"]
    assert items.loc["10", "title"] == "Misérables, Les (1995)"
    assert items.loc["10", "year"] == 1995 and items.loc["10", "url"] == "http://x/10"
    assert items.loc["20", "categories"] == ["unknown"] and pd.isna(items.loc["20", "year"])
    assert data.users.set_index("user_id").loc["2", "zip"] == "T8H1N"


def test_1m_layout_maps_codes_and_reads_titles(ml1m_small: Path) -> None:
    data = read_movielens(ml1m_small)
    assert data.summary() == {"users": 2, "items": 2, "interactions": 3}
    assert data.interactions["timestamp"].tolist() == [978300760.0, 978302109.0, 978298413.0]
    items = data.items.set_index("item_id")
    assert items.loc["661", "title"] == "Star Wars: Episode IV - A New Hope (1977)"
    assert items.loc["661", "categories"] == ["Action", "Adventure", "Sci-Fi"]
    assert items.loc["661", "year"] == 1977
    assert items.loc["5", "title"] == "Misérables, Les (1995)"
    users = data.users.set_index("user_id")
    assert users.loc["1", "occupation"] == "K-12 student"
    assert users.loc["1", "age_group"] == "Under 18" and users.loc["1", "age"] == 1.0
    assert users.loc["2", "occupation"] == "self-employed"
    assert users.loc["2", "age_group"] == "56+"
    assert users.loc["3", "occupation"] == "99"  # unknown code kept and counted
    assert data.read_issues["unknown_occupation_code"] == 1


def test_ratings_only_folder_has_no_item_or_user_tables(tmp_path: Path) -> None:
    (tmp_path / "u.data").write_text("1\t2\t3\t4\n")
    data = read_movielens(tmp_path)
    assert data.items is None and data.users is None
    assert len(data.interactions) == 1


def test_non_numeric_rating_names_file_line_and_column(ml100k_small: Path) -> None:
    (ml100k_small / "u.data").write_text("1\t10\t4\t881250949\n2\t10\tfive\t881250950\n")
    with pytest.raises(DataError) as err:
        read_movielens(ml100k_small)
    message = str(err.value)
    assert "u.data" in message and "line 2" in message and "'rating'" in message
    assert "five" in message


def test_missing_rating_cell_is_an_error(ml1m_small: Path) -> None:
    (ml1m_small / "ratings.dat").write_text("1::1193::5::978300760\n1::661::::978302109\n")
    with pytest.raises(DataError, match=r"ratings\.dat, line 2, column 'rating'"):
        read_movielens(ml1m_small)


def test_wrong_field_count_in_movies_names_line(ml1m_small: Path) -> None:
    (ml1m_small / "movies.dat").write_text("1193::Title (1975)::Drama\n661::No genres\n")
    with pytest.raises(DataError, match=r"movies\.dat, line 2: expected 3 fields"):
        read_movielens(ml1m_small)


def test_folder_without_ratings_is_missing_data(tmp_path: Path) -> None:
    (tmp_path / "u.item").write_text("1|x|||||0\n")
    with pytest.raises(MissingDataError, match=r"u\.data .*ratings\.dat"):
        read_movielens(tmp_path)
