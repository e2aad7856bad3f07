"""Data sets by name or by path: one entry point that picks the right reader.

A name (``ml-100k``, ``amazon-gift-cards``, ...) is looked up in the data folder
(``STOREX_DATA_DIR``) and then in the download cache; a path is recognised by its layout, so
users can point StoreX at a folder without saying what it holds.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from storex.config import load_settings
from storex.data.readers.amazon import read_amazon
from storex.data.readers.lightgcn import read_lightgcn
from storex.data.readers.movielens import read_movielens
from storex.data.readers.sessions import read_diginetica, read_retailrocket, session_layout
from storex.data.readers.tabular import read_tabular
from storex.data.schema import StoreData
from storex.errors import DataError, MissingDataError


@dataclass(frozen=True)
class DatasetInfo:
    """A named data set: where it lives (relative to the data folder) and what it is."""

    name: str
    folder: str
    marker: str  # a file whose presence means the data set is there
    description: str
    downloadable: bool = False
    origin: str = ""  # where to get the files when StoreX cannot download them


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("ml-100k", "ml-100k", "u.data",
                    "MovieLens 100K: ratings, genres, user demographics", downloadable=True),
        DatasetInfo("ml-1m", "ml-1m", "ratings.dat",
                    "MovieLens 1M: ratings, genres, user demographics", downloadable=True),
        DatasetInfo("lightgcnpp-ml-1m", "lightgcnpp/ml-1m", "train.txt",
                    "MovieLens-1M implicit train/valid/test split (LightGCN++ paper)",
                    origin="The files are in the LightGCN++ code release, folder data/ml-1m."),
        DatasetInfo("lightgcnpp-lastfm", "lightgcnpp/lastfm", "train.txt",
                    "Last.fm implicit train/valid/test split (LightGCN++ paper)",
                    origin="The files are in the LightGCN++ code release, folder data/lastfm."),
        DatasetInfo("amazon-gift-cards", "amazon-gift-cards", "Gift_Cards_5.json.gz",
                    "Amazon 2018 Gift Cards: 5-core reviews and item metadata",
                    origin="Gift_Cards_5.json.gz and meta_Gift_Cards.json.gz of the Amazon "
                    "Review Data (2018) release."),
        DatasetInfo("diginetica-sample", "diginetica-sample", "sample_train-item-views.csv",
                    "DIGINETICA (CIKM Cup 2016) anonymous browsing sessions, sample",
                    origin="The sample_train-item-views.csv of the SR-GNN code release."),
        DatasetInfo("retailrocket", "retailrocket", "events.csv",
                    "RetailRocket views, add-to-carts and transactions",
                    origin="It is published on Kaggle (retailrocket/ecommerce-dataset); "
                    "place its events.csv there."),
        DatasetInfo("synthetic", "", "", "Generated store with known structure (no files)"),
    )
}  # fmt: skip
DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)
AMAZON_2023_PREFIX = "amazon-2023:"
_JSON_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
_TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".csv.gz", ".tsv.gz")


def load_dataset(
    name_or_path: str | Path,
    *,
    data_dir: Path | None = None,
    session_gap_minutes: float = 30.0,
    stream_rows: int | None = None,
) -> StoreData:
    """Read a named data set, or a file/folder whose layout is recognised, as StoreData.

    Names: see :data:`DATASET_NAMES`, plus ``amazon-2023:<Category>`` after a download.
    ``stream_rows``: Parquet interaction tables above this many rows are read batch by batch
    into integer codes (see :func:`storex.data.readers.tabular.read_tabular`).
    """
    text = str(name_or_path)
    if text == "synthetic":
        from storex.data.synthetic import generate_store

        return generate_store()
    if text in DATASETS or text.startswith(AMAZON_2023_PREFIX):
        folder = locate_dataset(text, data_dir=data_dir)
        data = load_path(folder, session_gap_minutes=session_gap_minutes, stream_rows=stream_rows)
        data.name = text
        return data
    path = Path(name_or_path).expanduser()
    if path.exists():
        return load_path(path, session_gap_minutes=session_gap_minutes, stream_rows=stream_rows)
    raise MissingDataError(
        f"{text!r} is neither a known data set nor an existing file or folder. "
        f"Known names: {', '.join(DATASET_NAMES)}, {AMAZON_2023_PREFIX}<Category>. "
        f"{_placement_hint(data_dir)}"
    )


def locate_dataset(name: str, *, data_dir: Path | None = None) -> Path:
    """The folder holding a named data set: the data folder first, then the download cache."""
    folder, marker, downloadable = _where(name)
    settings = load_settings()
    roots = [Path(data_dir) if data_dir is not None else settings.data_dir, settings.cache_dir]
    for root in roots:
        if (root / folder / marker).is_file():
            return root / folder
    tried = ", ".join(str(root / folder / marker) for root in roots)
    fetch = f", or run `storex data download {name}`" if downloadable else ""
    origin = DATASETS[name].origin if name in DATASETS else ""
    raise MissingDataError(
        f"data set {name!r} not found (looked for {tried}). Place its files in "
        f"{roots[0] / folder} (set STOREX_DATA_DIR to use another data folder){fetch}."
        f"{' ' + origin if origin else ''} Known names: {', '.join(DATASET_NAMES)}, "
        f"{AMAZON_2023_PREFIX}<Category>."
    )


def describe_datasets(data_dir: Path | None = None) -> list[dict[str, str]]:
    """One row per known data set: name, what it is, whether it is present and where."""
    rows = []
    for info in DATASETS.values():
        if info.name == "synthetic":
            where, status = "(generated)", "available"
        else:
            try:
                where, status = str(locate_dataset(info.name, data_dir=data_dir)), "present"
            except MissingDataError:
                where = str((data_dir or load_settings().data_dir) / info.folder)
                status = "downloadable" if info.downloadable else "missing"
        rows.append(
            {"name": info.name, "description": info.description, "status": status, "path": where}
        )
    rows.append(
        {
            "name": f"{AMAZON_2023_PREFIX}<Category>",
            "description": "Amazon Reviews 2023, one category (reviews + metadata)",
            "status": "downloadable",
            "path": str(load_settings().cache_dir / "amazon-2023" / "<Category>"),
        }
    )
    return rows


def detect_layout(path: str | Path) -> str:
    """Which reader a file or folder needs: ``movielens``, ``lightgcn``, ``amazon``,
    ``diginetica``, ``retailrocket`` or ``tabular``."""
    path = Path(path)
    if not path.exists():
        raise MissingDataError("no such file or folder", path=path)
    if path.is_file():
        return _file_layout(path)
    if (path / "u.data").is_file() or (path / "ratings.dat").is_file():
        return "movielens"
    if (path / "train.txt").is_file() and (path / "test.txt").is_file():
        return "lightgcn"
    if (path / "events.csv").is_file() and _file_layout(path / "events.csv") == "retailrocket":
        return "retailrocket"
    if _named_table(path, "interactions") is not None:
        return "tabular"
    if _review_files(path):
        return "amazon"
    if any(_file_layout(p) == "diginetica" for p in sorted(path.glob("*.csv"))):
        return "diginetica"
    raise DataError(
        "folder layout not recognised: expected u.data or ratings.dat (MovieLens), "
        "train.txt + test.txt (LightGCN), Amazon review JSON lines, a DIGINETICA CSV, "
        "events.csv (RetailRocket) or interactions.csv/.tsv/.parquet (own tables); "
        f"found {sorted(p.name for p in path.iterdir())[:20]}",
        path=path,
    )


def load_path(
    path: str | Path, *, session_gap_minutes: float = 30.0, stream_rows: int | None = None
) -> StoreData:
    """Read a file or folder with the reader its layout calls for."""
    path = Path(path)
    layout = detect_layout(path)
    folder = path.parent if path.is_file() else path
    if layout == "movielens":
        return read_movielens(folder)
    if layout == "lightgcn":
        return read_lightgcn(folder)
    if layout == "amazon":
        reviews = path if path.is_file() else _single_review_file(path)
        return read_amazon(reviews, _meta_beside(reviews))
    if layout == "diginetica":
        target = path if path.is_file() else _first(path.glob("*.csv"), "diginetica")
        return read_diginetica(target)
    if layout == "retailrocket":
        target = path if path.is_file() else path / "events.csv"
        return read_retailrocket(target, gap_minutes=session_gap_minutes)
    interactions = path if path.is_file() else _named_table(path, "interactions")
    if interactions is None:
        raise DataError("no interactions table found", path=path)
    beside = interactions.name.lower().startswith("interactions.")
    return read_tabular(
        interactions,
        items=_named_table(folder, "items") if beside else None,
        users=_named_table(folder, "users") if beside else None,
        stream_rows=stream_rows,
    )


def _where(name: str) -> tuple[str, str, bool]:
    """(folder, marker file, downloadable) of a named data set."""
    if name.startswith(AMAZON_2023_PREFIX):
        category = name[len(AMAZON_2023_PREFIX) :]
        if not category or "/" in category or category.startswith("."):
            raise DataError(f"bad category in {name!r}: expected e.g. amazon-2023:All_Beauty")
        return f"amazon-2023/{category}", f"{category}.jsonl.gz", True
    info = DATASETS.get(name)
    if info is None or not info.folder:
        raise MissingDataError(f"{name!r} is not a data set kept in files")
    return info.folder, info.marker, info.downloadable


def _placement_hint(data_dir: Path | None) -> str:
    root = data_dir or load_settings().data_dir
    return (
        f"Place data sets under {root} (or set STOREX_DATA_DIR), run "
        "`storex data download NAME`, or pass a path to a folder in a supported layout."
    )


def _file_layout(path: Path) -> str:
    name = path.name.lower()
    if name in ("u.data", "ratings.dat"):
        return "movielens"
    if name in ("train.txt", "test.txt", "valid.txt"):
        return "lightgcn"
    if name.endswith(_JSON_SUFFIXES):
        if name.startswith("meta_"):
            raise DataError("this is an item metadata file; pass the review file", path=path)
        return "amazon"
    if name.endswith(_TABLE_SUFFIXES):
        if name.endswith(".parquet"):
            return "tabular"
        layout = session_layout(path)  # DIGINETICA in either spelling, RetailRocket
        return layout if layout in ("diginetica", "retailrocket") else "tabular"
    raise DataError(
        "file type not recognised: expected .csv/.tsv/.parquet, JSON lines (.json/.jsonl, "
        "optionally .gz), u.data, ratings.dat or train.txt",
        path=path,
    )


def _first_line(path: Path) -> str:
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            return handle.readline()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read the first line: {exc}", path=path) from exc


def _review_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and p.name.lower().endswith(_JSON_SUFFIXES)
        and not p.name.lower().startswith("meta_")
        and _looks_like_reviews(p)
    )


def _looks_like_reviews(path: Path) -> bool:
    try:
        record = json.loads(_first_line(path))
    except (json.JSONDecodeError, DataError):
        return False
    return isinstance(record, dict) and ("reviewerID" in record or "user_id" in record)


def _single_review_file(folder: Path) -> Path:
    files = _review_files(folder)
    if len(files) != 1:
        raise DataError(
            f"expected one Amazon review file, found {[p.name for p in files]}; pass the file",
            path=folder,
        )
    return files[0]


def _meta_beside(reviews: Path) -> Path | None:
    """``meta_<Category>.json(l)(.gz)`` next to a review file (2018 5-core names end ``_5``)."""
    metas = sorted(
        p
        for p in reviews.parent.iterdir()
        if p.name.lower().startswith("meta_") and p.name.lower().endswith(_JSON_SUFFIXES)
    )
    stem = reviews.name.split(".")[0]
    for candidate in (stem, stem.removesuffix("_5")):
        match = [p for p in metas if p.name.split(".")[0] == f"meta_{candidate}"]
        if match:
            return match[0]
    return metas[0] if len(metas) == 1 else None


def _named_table(folder: Path, stem: str) -> Path | None:
    for suffix in _TABLE_SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _first(paths: Iterable[Path], layout: str) -> Path:
    for path in sorted(paths):
        if _file_layout(path) == layout:
            return path
    raise DataError(f"no {layout} file found")
