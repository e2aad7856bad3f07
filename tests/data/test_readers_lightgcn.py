"""LightGCN adjacency-list reader: the LightGCN++ splits and small folders written here."""

from __future__ import annotations

from pathlib import Path

import pytest

from storex.data.readers.lightgcn import read_lightgcn
from storex.errors import DataError, MissingDataError


@pytest.mark.parametrize(
    ("folder", "users", "items", "rows", "per_split"),
    [
        ("lightgcnpp/ml-1m", 6039, 3628, 836478, {"train": 590733, "valid": 80897, "test": 164848}),
        ("lightgcnpp/lastfm", 1885, 17388, 91779, {"train": 64315, "valid": 9143, "test": 18321}),
    ],
)
def test_real_splits_match_published_counts(
    real_dataset, folder: str, users: int, items: int, rows: int, per_split: dict[str, int]
) -> None:
    data = read_lightgcn(real_dataset(folder))
    assert data.summary() == {"users": users, "items": items, "interactions": rows}
    assert data.interactions["split"].value_counts().to_dict() == per_split
    assert data.is_presplit and not data.is_explicit
    assert not data.interactions.duplicated(["user_id", "item_id"]).any()


def test_small_folder_without_valid(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("0 1 2 3\n1 2\n2\n")
    (tmp_path / "test.txt").write_text("0 4\n1 5 6")  # no newline at the end
    data = read_lightgcn(tmp_path)
    inter = data.interactions
    assert list(zip(inter["user_id"], inter["item_id"], inter["split"], strict=True)) == [
        ("0", "1", "train"),
        ("0", "2", "train"),
        ("0", "3", "train"),
        ("1", "2", "train"),
        ("0", "4", "test"),
        ("1", "5", "test"),
        ("1", "6", "test"),
    ]
    assert data.read_issues["user_line_without_items"] == 1
    assert inter["rating"].isna().all() and inter["timestamp"].isna().all()


def test_extra_spaces_and_blank_lines_are_tolerated(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("0  1 2 \n\n1 3\n")
    (tmp_path / "test.txt").write_text("1 4\n")
    assert len(read_lightgcn(tmp_path).interactions) == 4


def test_non_integer_token_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("0 1 2\n1 2\n2 3 x7 4\n")
    (tmp_path / "test.txt").write_text("0 4\n")
    with pytest.raises(DataError) as err:
        read_lightgcn(tmp_path)
    message = str(err.value)
    assert "train.txt" in message and "line 3" in message and "'x7'" in message


def test_bad_user_token_on_first_line(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("0 1\n")
    (tmp_path / "test.txt").write_text("u1 4\n")
    with pytest.raises(DataError, match=r"test\.txt, line 1"):
        read_lightgcn(tmp_path)


def test_missing_test_file(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("0 1\n")
    with pytest.raises(MissingDataError, match=r"test\.txt"):
        read_lightgcn(tmp_path)
