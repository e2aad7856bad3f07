"""A shop's own interaction, item and user tables (CSV, TSV or Parquet) as StoreData.

Column names are matched by their usual spellings (``userId``, ``product_id``, ``overall``,
...) unless an explicit mapping is given, so most exports load without renaming. The small
parsing helpers here (strict numbers, flexible timestamps) are shared by the other readers.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from storex.data.readers.parquet_stream import parquet_rows, read_parquet_codes
from storex.data.schema import (
    StoreData,
    conform_interactions,
    conform_items,
    conform_users,
    text_codes,
)
from storex.errors import DataError, MissingDataError

INTERACTION_ALIASES: dict[str, tuple[str, ...]] = {
    "user_id": ("user_id", "userid", "user", "visitorid", "visitor_id", "customer_id"),
    "item_id": (
        "item_id",
        "itemid",
        "item",
        "product_id",
        "productid",
        "asin",
        "movieid",
        "movie_id",
        "sku",
    ),
    "rating": ("rating", "overall", "score"),
    "timestamp": ("timestamp", "time", "ts", "timeframe", "date", "event_time", "datetime"),
    "session_id": ("session_id", "sessionid", "session"),
    "event": ("event", "event_type"),
}
ITEM_ALIASES: dict[str, tuple[str, ...]] = {
    "item_id": INTERACTION_ALIASES["item_id"],
    "title": ("title", "name", "product_name"),
    "categories": ("categories", "category", "genres", "genre"),
    "brand": ("brand", "store", "manufacturer"),
    "price": ("price",),
    "year": ("year",),
}
USER_ALIASES: dict[str, tuple[str, ...]] = {
    "user_id": INTERACTION_ALIASES["user_id"],
    "age": ("age",),
    "gender": ("gender", "sex"),
    "occupation": ("occupation", "job"),
    "zip": ("zip", "zip_code", "zipcode", "postcode", "postal_code"),
}
CATEGORY_SEPARATOR = "|"
_SEPARATORS = (",", ";", "\t", "|")


def read_tabular(
    interactions: str | Path,
    items: str | Path | None = None,
    users: str | Path | None = None,
    mapping: dict[str, str] | None = None,
    *,
    stream_rows: int | None = None,
) -> StoreData:
    """Read a shop's interactions (plus optional item and user tables) into StoreData.

    Parameters
    ----------
    interactions, items, users
        CSV/TSV (optionally ``.gz``) or Parquet files; ``items`` and ``users`` are optional.
    mapping
        Canonical column -> source column, for columns whose names are not recognised. The
        interactions file must have every mapped interaction column; the item and user tables
        use a mapped column where they have it and the usual spellings otherwise.
    stream_rows
        A Parquet interactions file with more rows than this is read batch by batch into
        integer codes (:mod:`storex.data.readers.parquet_stream`): same content, a fraction of
        the memory. None reads every file whole.
    """
    known = set(INTERACTION_ALIASES) | set(ITEM_ALIASES) | set(USER_ALIASES)
    unknown = sorted(set(mapping or {}) - known)
    if unknown:
        raise DataError(
            f"mapping has unknown canonical column(s) {unknown}; known: {sorted(known)}"
        )
    issues: Counter[str] = Counter()
    path = Path(interactions)
    streamed = stream_rows is not None and _is_parquet(path) and parquet_rows(path) > stream_rows
    raw = read_parquet_codes(path) if streamed else read_table(path)
    cols = _resolve_columns(
        raw, INTERACTION_ALIASES, mapping, path, ("user_id", "item_id"), strict=True
    )
    frame = pd.DataFrame({canon: raw[source] for canon, source in cols.items()})
    del raw
    for key in ("user_id", "item_id"):
        require_values(frame[key], path=path, column=cols[key], header_lines=1)
    if "rating" in frame:
        frame["rating"] = strict_float(frame["rating"], path=path, column=cols["rating"])
    if "timestamp" in frame:
        frame["timestamp"], bad = parse_timestamps(frame["timestamp"])
        issues["unparsable_timestamp"] += bad
    if "rating" in frame and "event" not in frame:
        frame["event"] = pd.Series("rating", index=frame.index).where(frame["rating"].notna())
    return StoreData(
        name=path.name.split(".")[0],
        interactions=conform_interactions(frame),
        items=_read_items(Path(items), mapping, issues) if items is not None else None,
        users=_read_users(Path(users), mapping, issues) if users is not None else None,
        source=str(path),
        read_issues=+issues,
    )


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file; text files come back as strings so ids stay text."""
    if not path.is_file():
        raise MissingDataError("file not found", path=path)
    try:
        if _is_parquet(path):
            return pd.read_parquet(path)
        return pd.read_csv(path, sep=_sniff_separator(path), dtype=str, engine="c")
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot be read as a table: {exc}", path=path) from exc


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def strict_float(
    values: pd.Series, *, path: str | Path, column: str, header_lines: int = 1
) -> pd.Series:
    """Numbers as float64; empty cells become NaN, any other non-number is a DataError.

    The error names the file line (1-based, counting ``header_lines`` header lines).
    """
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64")
    try:
        return values.astype("float64")
    except (TypeError, ValueError):
        pass  # locate the offending cell below
    numbers = pd.to_numeric(values, errors="coerce")
    text = values.astype("string").str.strip()
    bad = numbers.isna() & text.notna() & (text != "")
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"expected a number, got {values.iloc[pos]!r}",
            path=path,
            line=pos + 1 + header_lines,
            column=column,
        )
    return numbers.astype("float64")


def require_values(
    values: pd.Series, *, path: str | Path, column: str, header_lines: int = 1
) -> None:
    """Raise a DataError at the first empty cell of a column that must be filled."""
    codes, distinct = text_codes(values)
    blank = (pd.Series(distinct, dtype="string").str.strip() == "").to_numpy(dtype=bool)
    empty = codes < 0
    empty[~empty] = blank[codes[~empty]]
    if empty.any():
        pos = int(np.flatnonzero(empty)[0])
        raise DataError(
            "empty value where one is required",
            path=path,
            line=pos + 1 + header_lines,
            column=column,
        )


def parse_timestamps(values: pd.Series) -> tuple[pd.Series, int]:
    """Seconds since the epoch (float64) and how many non-empty values could not be parsed.

    Numbers are epoch seconds, or milliseconds / microseconds when the column's typical
    magnitude says so; text is read as ISO 8601 first, then as any common date format.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return _datetime_seconds(pd.to_datetime(values, utc=True)), 0
    if pd.api.types.is_numeric_dtype(values.dtype):
        return _epoch_seconds(values.astype("float64")), 0
    text = values.astype("string").str.strip()
    text = text.mask(text == "", pd.NA)
    try:
        return _epoch_seconds(text.astype("float64")), 0
    except (TypeError, ValueError):
        pass  # not all numbers: read as dates below
    present = text.notna()
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    retry = parsed.isna() & present
    if retry.any():
        parsed[retry] = pd.to_datetime(text[retry], errors="coerce", utc=True, format="mixed")
    seconds = _datetime_seconds(parsed)
    return seconds, int((seconds.isna() & present).sum())


def _epoch_seconds(numbers: pd.Series) -> pd.Series:
    magnitude = float(np.nanmedian(np.abs(numbers))) if numbers.notna().any() else 0.0
    if magnitude > 1e14:
        return numbers / 1e6
    if magnitude > 1e11:
        return numbers / 1e3
    return numbers


def _datetime_seconds(parsed: pd.Series) -> pd.Series:
    epoch = pd.Timestamp(0, tz="UTC")
    return ((parsed - epoch) / pd.Timedelta(seconds=1)).astype("float64")


def _read_items(
    path: Path, mapping: Mapping[str, str] | None, issues: Counter[str]
) -> pd.DataFrame:
    raw = read_table(path)
    cols = _resolve_columns(raw, ITEM_ALIASES, mapping, path, ("item_id",), strict=False)
    frame = _with_extras(raw, cols)
    if "categories" in frame:
        frame["categories"] = [_split_categories(v) for v in frame["categories"]]
    for col in ("price", "year"):
        if col in frame:
            frame[col] = strict_float(frame[col], path=path, column=cols[col])
    return _first_per_id(conform_items(frame), "item_id", issues, "duplicate_item_row")


def _read_users(
    path: Path, mapping: Mapping[str, str] | None, issues: Counter[str]
) -> pd.DataFrame:
    raw = read_table(path)
    cols = _resolve_columns(raw, USER_ALIASES, mapping, path, ("user_id",), strict=False)
    frame = _with_extras(raw, cols)
    if "age" in frame:
        frame["age"] = strict_float(frame["age"], path=path, column=cols["age"])
    return _first_per_id(conform_users(frame), "user_id", issues, "duplicate_user_row")


def _with_extras(raw: pd.DataFrame, cols: dict[str, str]) -> pd.DataFrame:
    """Canonical columns renamed, every other source column kept as an extra."""
    frame = raw.rename(columns={source: canon for canon, source in cols.items()})
    return frame.loc[:, ~frame.columns.duplicated()]


def _first_per_id(frame: pd.DataFrame, key: str, issues: Counter[str], issue: str) -> pd.DataFrame:
    dup = frame[key].duplicated()
    issues[issue] += int(dup.sum())
    return frame.loc[~dup].reset_index(drop=True)


def _split_categories(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(CATEGORY_SEPARATOR) if part.strip()]
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [str(v) for v in value]  # type: ignore[attr-defined]


def _resolve_columns(
    raw: pd.DataFrame,
    aliases: Mapping[str, tuple[str, ...]],
    mapping: Mapping[str, str] | None,
    path: Path,
    required: tuple[str, ...],
    *,
    strict: bool,
) -> dict[str, str]:
    """Canonical name -> source column, from the explicit mapping first, then the aliases.

    With ``strict``, a mapped column the table lacks is an error; otherwise it is skipped.
    """
    by_lower = {str(c).strip().lower(): c for c in raw.columns}
    found: dict[str, str] = {}
    for canon, spellings in aliases.items():
        wanted = (mapping or {}).get(canon)
        if wanted is not None and (strict or wanted in raw.columns):
            if wanted not in raw.columns:
                raise DataError(
                    f"mapping names column {wanted!r} for {canon!r}, but it is not there; "
                    f"found {list(raw.columns)}",
                    path=path,
                )
            found[canon] = wanted
            continue
        match = next((by_lower[s] for s in spellings if s in by_lower), None)
        if match is not None and match not in found.values():
            found[canon] = match
    missing = [c for c in required if c not in found]
    if missing:
        accepted = "; ".join(f"{c}: {', '.join(aliases[c])}" for c in missing)
        raise DataError(
            f"missing required column(s) {missing} (accepted spellings: {accepted}); "
            f"found {list(raw.columns)}; pass mapping={{canonical: source}} to name them",
            path=path,
        )
    return found


def _sniff_separator(path: Path) -> str:
    """The delimiter that splits the header line most: ',', ';', tab or '|'."""
    if any(s.lower() == ".tsv" for s in path.suffixes):
        return "\t"
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","
