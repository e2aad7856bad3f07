"""MovieLens 100K (``u.data``/``u.item``/``u.user``) and 1M (``*.dat``) folders as StoreData.

Both layouts are turned into the same three raw tables (ratings, movies, users) and then
assembled by one code path, so the two releases give identically shaped data.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from storex.data.readers.tabular import require_values, strict_float
from storex.data.schema import StoreData, conform_items, conform_users, interactions_frame
from storex.errors import DataError, MissingDataError

ENCODING = "latin-1"
GENRES_1M = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)  # fmt: skip
GENRES_100K = ("unknown", *GENRES_1M)
AGE_GROUPS_1M = {
    1: "Under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49", 50: "50-55", 56: "56+",
}  # fmt: skip
OCCUPATIONS_1M = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip
_RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")


def read_movielens(folder: str | Path) -> StoreData:
    """Read a MovieLens 100K or 1M folder, keeping genres and user demographics.

    The layout is detected from the files present: ``u.data`` (100K) or ``ratings.dat`` (1M).
    """
    folder = Path(folder)
    issues: Counter[str] = Counter()
    if (folder / "u.data").is_file():
        ratings = _read_ratings(folder / "u.data", sep="\t", fields=4)
        movies = _movies_100k(folder)
        users = _users_100k(folder)
    elif (folder / "ratings.dat").is_file():
        ratings = _read_ratings(folder / "ratings.dat", sep="::", fields=4)
        movies = _movies_1m(folder)
        users = _users_1m(folder, issues)
    else:
        raise MissingDataError(
            "not a MovieLens folder: expected u.data (100K layout) or ratings.dat (1M layout)",
            path=folder,
        )
    interactions = interactions_frame(
        ratings["user_id"],
        ratings["item_id"],
        rating=ratings["rating"],
        timestamp=ratings["timestamp"],
        event="rating",
    )
    return StoreData(
        name=folder.name,
        interactions=interactions,
        items=None if movies is None else conform_items(movies),
        users=None if users is None else conform_users(users),
        source=str(folder),
        read_issues=+issues,
    )


def _read_ratings(path: Path, *, sep: str, fields: int) -> pd.DataFrame:
    """``user item rating timestamp`` lines, parsed by the C engine.

    A two-character separator such as ``::`` is read as ``:`` with the empty fields between
    the pairs skipped, which keeps the fast parser.
    """
    step = len(sep)
    try:
        raw = pd.read_csv(
            path,
            sep=sep[0],
            header=None,
            usecols=list(range(0, fields * step, step)),
            dtype=str,
            engine="c",
            encoding=ENCODING,
        )
    except (ValueError, OSError) as exc:
        raise DataError(f"cannot read ratings: {exc}", path=path) from exc
    raw.columns = list(_RATING_COLUMNS)
    for col in _RATING_COLUMNS:
        require_values(raw[col], path=path, column=col, header_lines=0)
    raw["rating"] = strict_float(raw["rating"], path=path, column="rating", header_lines=0)
    raw["timestamp"] = strict_float(raw["timestamp"], path=path, column="timestamp", header_lines=0)
    return raw


def _split_file(path: Path, sep: str, fields: int) -> pd.DataFrame:
    """Small text tables (movies, users, genres) split line by line, checking field counts."""
    if not path.is_file():
        raise MissingDataError("file not found", path=path)
    rows = []
    for number, line in enumerate(path.read_text(encoding=ENCODING).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(sep)
        if len(parts) != fields:
            raise DataError(
                f"expected {fields} fields separated by {sep!r}, found {len(parts)}",
                path=path,
                line=number,
            )
        rows.append(parts)
    return pd.DataFrame(rows, columns=range(fields), dtype=object)


def _movies_100k(folder: Path) -> pd.DataFrame | None:
    item_path = folder / "u.item"
    if not item_path.is_file():
        return None
    genres = GENRES_100K
    if (folder / "u.genre").is_file():
        table = _split_file(folder / "u.genre", "|", 2)
        genres = tuple(table.sort_values(1, key=lambda s: s.astype(int))[0])
    raw = _split_file(item_path, "|", 5 + len(genres))
    flags = raw.iloc[:, 5:].to_numpy() == "1"
    release = pd.to_datetime(raw[2], format="%d-%b-%Y", errors="coerce")
    return pd.DataFrame(
        {
            "item_id": raw[0],
            "title": raw[1],
            "categories": _genre_lists(flags, genres),
            "year": release.dt.year.fillna(_title_year(raw[1])),
            "url": raw[4].astype("string").str.strip().replace("", pd.NA),
        }
    )


def _movies_1m(folder: Path) -> pd.DataFrame | None:
    path = folder / "movies.dat"
    if not path.is_file():
        return None
    raw = _split_file(path, "::", 3)
    return pd.DataFrame(
        {
            "item_id": raw[0],
            "title": raw[1],
            "categories": [[g for g in s.split("|") if g] for s in raw[2]],
            "year": _title_year(raw[1]),
        }
    )


def _users_100k(folder: Path) -> pd.DataFrame | None:
    path = folder / "u.user"
    if not path.is_file():
        return None
    raw = _split_file(path, "|", 5)
    return pd.DataFrame(
        {
            "user_id": raw[0],
            "age": strict_float(raw[1], path=path, column="age", header_lines=0),
            "gender": raw[2],
            "occupation": raw[3],
            "zip": raw[4],
        }
    )


def _users_1m(folder: Path, issues: Counter[str]) -> pd.DataFrame | None:
    """Age bucket codes stay numeric (lower bound) with the README's name beside them."""
    path = folder / "users.dat"
    if not path.is_file():
        return None
    raw = _split_file(path, "::", 5)
    age = strict_float(raw[2], path=path, column="age", header_lines=0)
    occupation_code = strict_float(raw[3], path=path, column="occupation", header_lines=0)
    names = dict(enumerate(OCCUPATIONS_1M))
    occupation = occupation_code.map(names)
    unknown = occupation.isna() & occupation_code.notna()
    issues["unknown_occupation_code"] += int(unknown.sum())
    age_group = age.map(AGE_GROUPS_1M)
    issues["unknown_age_code"] += int((age_group.isna() & age.notna()).sum())
    return pd.DataFrame(
        {
            "user_id": raw[0],
            "age": age,
            "gender": raw[1],
            "occupation": occupation.where(~unknown, raw[3]),
            "zip": raw[4],
            "age_group": age_group,
        }
    )


def _genre_lists(flags: np.ndarray, genres: tuple[str, ...]) -> list[list[str]]:
    names = np.asarray(genres, dtype=object)
    return [list(names[row]) for row in flags]


def _title_year(titles: pd.Series) -> pd.Series:
    """The year in a trailing ``(YYYY)`` of a title, NaN when absent."""
    return pd.to_numeric(titles.str.extract(r"\((\d{4})\)\s*$")[0], errors="coerce")
