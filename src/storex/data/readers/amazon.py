"""Amazon review dumps (2018 and 2023 releases, JSON lines, plain or gzip) as StoreData.

The files can be many gigabytes, so they are streamed: only the handful of fields StoreX uses
are kept, ``chunk_size`` records at a time, and each chunk becomes a small typed frame.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from storex.data.schema import StoreData, conform_items, interactions_frame
from storex.errors import DataError, MissingDataError


@dataclass(frozen=True)
class ReviewLayout:
    """Where one release keeps the review fields."""

    name: str
    user: str
    items: tuple[str, ...]  # first present wins
    rating: str
    time: str
    seconds_per_unit: float


@dataclass(frozen=True)
class MetaLayout:
    """Where one release keeps the item fields."""

    name: str
    items: tuple[str, ...]
    categories: str
    brand: str
    main_category: str


REVIEWS_2018 = ReviewLayout("2018", "reviewerID", ("asin",), "overall", "unixReviewTime", 1.0)
REVIEWS_2023 = ReviewLayout("2023", "user_id", ("parent_asin", "asin"), "rating", "timestamp", 1e-3)
META_2018 = MetaLayout("2018", ("asin",), "category", "brand", "main_cat")
META_2023 = MetaLayout("2023", ("parent_asin", "asin"), "categories", "store", "main_category")

MAX_CATEGORY_WORDS = 6
MAX_CATEGORY_CHARS = 50
_PRICE = re.compile(r"^\$?\s*(\d[\d,]*(?:\.\d+)?)$")
_PRICE_RANGE = re.compile(r"^\$?\s*(\d[\d,]*(?:\.\d+)?)\s*-\s*\$?\s*\d[\d,]*(?:\.\d+)?$")


def read_amazon(
    reviews_path: str | Path, meta_path: str | Path | None = None, chunk_size: int = 100_000
) -> StoreData:
    """Stream an Amazon review file (and optionally its metadata file) into StoreData.

    Meta items without reviews stay in the items table: they are the shop's catalog.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    reviews_path = Path(reviews_path)
    issues: Counter[str] = Counter()
    interactions = _read_reviews(reviews_path, chunk_size, issues)
    items = None
    if meta_path is not None:
        items = _read_meta(Path(meta_path), chunk_size, issues)
        reviewed = pd.Index(interactions["item_id"].unique())
        without_meta = reviewed.difference(pd.Index(items["item_id"]))
        issues["reviewed_item_without_meta"] += len(without_meta)
        if len(without_meta):
            extra = conform_items(pd.DataFrame({"item_id": without_meta.astype(str)}))
            items = pd.concat([items, extra], ignore_index=True)
    return StoreData(
        name=reviews_path.name.split(".")[0],
        interactions=interactions,
        items=items,
        source=str(reviews_path),
        read_issues=+issues,
    )


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` of a JSON-lines file, gzip detected by its magic bytes.

    Blank lines are skipped; a truncated or corrupt gzip stream, a line that is not JSON or
    a record that is not an object raises a DataError naming the file and line.
    """
    if not path.is_file():
        raise MissingDataError("file not found", path=path)
    number = 0
    try:
        with _open_text(path) as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"not valid JSON: {exc.msg}", path=path, line=number) from exc
                if not isinstance(record, dict):
                    raise DataError("expected a JSON object per line", path=path, line=number)
                yield number, record
    except (EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise DataError(
            f"corrupt or truncated file after the last good line: {exc}", path=path, line=number + 1
        ) from exc


def _open_text(path: Path) -> IO[str]:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _read_reviews(path: Path, chunk_size: int, issues: Counter[str]) -> pd.DataFrame:
    frames: list[pd.DataFrame] = []
    layout: ReviewLayout | None = None
    columns: dict[str, list[Any]] = _empty_columns()
    for number, record in iter_json_lines(path):
        if layout is None:
            layout = _review_layout(record, path, number)
        user = record.get(layout.user)
        item = next((record[k] for k in layout.items if record.get(k)), None)
        if not user or not item:
            missing = layout.user if not user else "/".join(layout.items)
            raise DataError("review has no user or item id", path=path, line=number, column=missing)
        columns["line"].append(number)
        columns["user_id"].append(user)
        columns["item_id"].append(item)
        columns["rating"].append(record.get(layout.rating))
        columns["timestamp"].append(record.get(layout.time))
        if len(columns["line"]) >= chunk_size:
            frames.append(_review_chunk(columns, layout, path, issues))
            columns = _empty_columns()
    if layout is None:
        raise DataError("no reviews in file", path=path)
    if columns["line"]:
        frames.append(_review_chunk(columns, layout, path, issues))
    return pd.concat(frames, ignore_index=True)


def _empty_columns() -> dict[str, list[Any]]:
    return {"line": [], "user_id": [], "item_id": [], "rating": [], "timestamp": []}


def _review_layout(record: dict[str, Any], path: Path, number: int) -> ReviewLayout:
    if REVIEWS_2018.user in record:
        return REVIEWS_2018
    if REVIEWS_2023.user in record:
        return REVIEWS_2023
    raise DataError(
        "not an Amazon review record: expected 'reviewerID' (2018) or 'user_id' (2023); "
        f"found keys {sorted(record)}",
        path=path,
        line=number,
    )


def _review_chunk(
    columns: dict[str, list[Any]], layout: ReviewLayout, path: Path, issues: Counter[str]
) -> pd.DataFrame:
    rating = _numbers(columns["rating"], columns["line"], path, layout.rating)
    stamp = _numbers(columns["timestamp"], columns["line"], path, layout.time)
    issues["missing_rating"] += int(np.isnan(rating).sum())
    issues["missing_timestamp"] += int(np.isnan(stamp).sum())
    return interactions_frame(
        pd.array(columns["user_id"], dtype="string"),
        pd.array(columns["item_id"], dtype="string"),
        rating=rating,
        timestamp=stamp * layout.seconds_per_unit,
        event="rating",
    )


def _numbers(values: list[Any], lines: list[int], path: Path, column: str) -> np.ndarray:
    """Floats of a chunk; None/"" become NaN, anything else that is not a number is an error."""
    raw = pd.Series(values, dtype=object)
    numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64")
    blank = raw.isna().to_numpy() | (raw == "").to_numpy()
    bad = np.isnan(numbers) & ~blank
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"expected a number, got {values[pos]!r}", path=path, line=lines[pos], column=column
        )
    return numbers


def _read_meta(path: Path, chunk_size: int, issues: Counter[str]) -> pd.DataFrame:
    frames: list[pd.DataFrame] = []
    layout: MetaLayout | None = None
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for number, record in iter_json_lines(path):
        if layout is None:
            layout = _meta_layout(record, path, number)
        item = next((record[k] for k in layout.items if record.get(k)), None)
        if not item:
            raise DataError(
                "item record has no id", path=path, line=number, column="/".join(layout.items)
            )
        if item in seen:
            issues["duplicate_item_meta"] += 1
            continue
        seen.add(item)
        rows.append(_meta_row(record, item, layout, issues))
        if len(rows) >= chunk_size:
            frames.append(_meta_chunk(rows, issues))
            rows = []
    if rows:
        frames.append(_meta_chunk(rows, issues))
    if not frames:
        raise DataError("no item records in file", path=path)
    return pd.concat(frames, ignore_index=True)


def _meta_chunk(rows: list[dict[str, Any]], issues: Counter[str]) -> pd.DataFrame:
    chunk = pd.DataFrame(rows)
    chunk["price"], junk = parse_prices(chunk["price"], issues)
    chunk["main_category"] = chunk["main_category"].astype("string")
    issues["junk_price"] += junk
    return conform_items(chunk)


def _meta_layout(record: dict[str, Any], path: Path, number: int) -> MetaLayout:
    if "parent_asin" in record:
        return META_2023
    if "asin" in record:
        return META_2018
    raise DataError(
        f"not an Amazon metadata record: expected 'asin' or 'parent_asin'; found {sorted(record)}",
        path=path,
        line=number,
    )


def _meta_row(
    record: dict[str, Any], item: str, layout: MetaLayout, issues: Counter[str]
) -> dict[str, Any]:
    brand = record.get(layout.brand) or None
    details = record.get("details")
    if brand is None and isinstance(details, dict):
        brand = details.get("Brand") or details.get("Manufacturer") or None
    levels = record.get(layout.categories)
    categories, dropped = clean_categories(levels if isinstance(levels, list) else [])
    issues["category_level_dropped"] += dropped
    return {
        "item_id": item,
        "title": _text(record.get("title")),
        "categories": categories,
        "brand": _text(brand),
        "price": record.get("price"),
        "main_category": _text(record.get(layout.main_category)),
    }


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return html.unescape(value).strip() or None


def clean_categories(levels: list[Any]) -> tuple[list[str], int]:
    """Category path without HTML fragments, marketing sentences or repeated levels.

    Returns the cleaned levels and how many were dropped as junk (repeats are not junk).
    """
    kept: list[str] = []
    dropped = 0
    for level in levels:
        text = html.unescape(level).strip() if isinstance(level, str) else ""
        if not text:
            continue
        if _is_junk_category(text):
            dropped += 1
        elif text not in kept:
            kept.append(text)
    return kept, dropped


def _is_junk_category(text: str) -> bool:
    return (
        "<" in text
        or ">" in text
        or text.endswith((".", "!", "?"))
        or len(text) > MAX_CATEGORY_CHARS
        or len(text.split()) > MAX_CATEGORY_WORDS
    )


def parse_prices(values: pd.Series, issues: Counter[str]) -> tuple[pd.Series, int]:
    """Prices as float: ``"$1,250.00"`` -> 1250.0; a range keeps its low end (counted).

    Empty values are missing, not junk; anything else (scraped HTML/CSS) is junk -> NaN.
    """
    out = np.full(len(values), np.nan)
    junk = 0
    for pos, value in enumerate(values):
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[pos] = float(value)
            continue
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            continue
        match = _PRICE.match(text) or _PRICE_RANGE.match(text)
        if match is None:
            junk += 1
            continue
        if match.re is _PRICE_RANGE:
            issues["price_range_low_end"] += 1
        out[pos] = float(match.group(1).replace(",", ""))
    return pd.Series(out, index=values.index), junk
