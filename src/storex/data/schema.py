"""The canonical tables every reader produces and every later stage reads.

Interactions (one row per event):
    user_id     str      external id
    item_id     str      external id
    rating      float64  explicit rating, NaN when the source is implicit
    timestamp   float64  seconds since the epoch (UTC, sub-second kept), NaN when unknown
    event       str      "rating", "view", "cart", "purchase", ... (may be missing)
    session_id  str      browsing session, missing when not a session source
    split       str      "train"/"valid"/"test" when the source is pre-split, else missing

Items: item_id, title, categories (list of str), brand, price, year, plus free-form extras.
Users: user_id, age, gender, occupation, zip, plus free-form extras.

The text columns of interactions may also be categorical (string categories): the streamed
reader of big Parquet files gives them so, and every stage reads them through their codes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

from storex.errors import DataError

INTERACTION_COLUMNS: Final = (
    "user_id",
    "item_id",
    "rating",
    "timestamp",
    "event",
    "session_id",
    "split",
)
ITEM_COLUMNS: Final = ("item_id", "title", "categories", "brand", "price", "year")
USER_COLUMNS: Final = ("user_id", "age", "gender", "occupation", "zip")
SPLITS: Final = ("train", "valid", "test")


@dataclass
class StoreData:
    """What a reader hands on: interactions plus the catalog and users it knows.

    ``read_issues`` counts rows a reader could read but had to change (e.g. an unparsable
    timestamp set to missing); cleaning folds them into its report.
    """

    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    source: str = ""
    read_issues: Counter[str] = field(default_factory=Counter)

    @property
    def is_presplit(self) -> bool:
        return bool(self.interactions["split"].notna().any())

    @property
    def is_explicit(self) -> bool:
        return bool(self.interactions["rating"].notna().any())

    @property
    def has_sessions(self) -> bool:
        return bool(self.interactions["session_id"].notna().any())

    def summary(self) -> dict[str, int]:
        inter = self.interactions
        return {
            "users": int(inter["user_id"].nunique()),
            "items": int(inter["item_id"].nunique()),
            "interactions": len(inter),
        }


def interactions_frame(
    user_id: object,
    item_id: object,
    *,
    rating: object = np.nan,
    timestamp: object = np.nan,
    event: object = None,
    session_id: object = None,
    split: object = None,
) -> pd.DataFrame:
    """Build a canonical interactions frame from columns (arrays or scalars)."""
    frame = pd.DataFrame({"user_id": user_id, "item_id": item_id})
    frame["rating"] = rating
    frame["timestamp"] = timestamp
    frame["event"] = event
    frame["session_id"] = session_id
    frame["split"] = split
    return conform_interactions(frame)


def conform_interactions(frame: pd.DataFrame) -> pd.DataFrame:
    """Give ``frame`` exactly the canonical columns and dtypes (missing ones filled)."""
    out = pd.DataFrame(index=frame.index)
    for col in ("user_id", "item_id", "event", "session_id", "split"):
        values = frame[col] if col in frame else pd.Series(pd.NA, index=frame.index)
        out[col] = _as_string(values)
    for col in ("rating", "timestamp"):
        values = frame[col] if col in frame else pd.Series(np.nan, index=frame.index)
        out[col] = pd.to_numeric(values, errors="raise").astype("float64")
    return out.loc[:, list(INTERACTION_COLUMNS)].reset_index(drop=True)


def conform_items(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical item table: known columns first and typed, extras kept after them."""
    out = frame.copy()
    out["item_id"] = _as_string(out["item_id"])
    for col in ("title", "brand"):
        out[col] = _as_string(out[col]) if col in out else pd.Series(pd.NA, index=out.index)
        out[col] = out[col].astype("string")
    if "categories" not in out:
        out["categories"] = [[] for _ in range(len(out))]
    else:
        out["categories"] = [_as_list(v) for v in out["categories"]]
    out["price"] = _numeric(out, "price").astype("float64")
    out["year"] = _numeric(out, "year").round().astype("Int64")
    extras = [c for c in out.columns if c not in ITEM_COLUMNS]
    return out.loc[:, [*ITEM_COLUMNS, *extras]].reset_index(drop=True)


def conform_users(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical user table: known columns first and typed, extras kept after them."""
    out = frame.copy()
    out["user_id"] = _as_string(out["user_id"])
    out["age"] = _numeric(out, "age").astype("float64")
    for col in ("gender", "occupation", "zip"):
        values = out[col] if col in out else pd.Series(pd.NA, index=out.index)
        out[col] = _as_string(values)
    extras = [c for c in out.columns if c not in USER_COLUMNS]
    return out.loc[:, [*USER_COLUMNS, *extras]].reset_index(drop=True)


def require_columns(frame: pd.DataFrame, required: tuple[str, ...], path: str) -> None:
    """Raise a DataError naming the file and every column it lacks."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}; found {list(frame.columns)}", path=path)


def text_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 when missing) and the distinct values of a text column.

    A categorical column hands over its own codes, so no text is built per row.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().copy(), values.cat.categories
    codes, distinct = pd.factorize(values)
    return codes, pd.Index(distinct)


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    """A numeric column, missing or unparsable values as NaN (metadata is best effort)."""
    if column not in frame:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    return pd.to_numeric(frame[column], errors="coerce")


def _as_string(values: pd.Series) -> pd.Series:
    """Strings with real missing values (never the text 'nan' or '').

    A categorical column stays categorical, cleaned on its distinct values only (texts equal
    after stripping merge): big streamed tables keep their compact codes.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return _as_string_categorical(values)
    series = values.astype("string").str.strip()
    return series.mask(series == "", pd.NA)


def _as_string_categorical(values: pd.Series) -> pd.Series:
    cleaned = _as_string(pd.Series(values.cat.categories, dtype=object))
    merged_codes, merged = pd.factorize(cleaned)
    codes = values.cat.codes.to_numpy()
    present = codes >= 0
    new_codes = np.full(codes.size, -1, dtype=np.int32)
    new_codes[present] = merged_codes[codes[present]]
    categories = pd.Index(np.asarray(merged, dtype=object), dtype=object)
    return pd.Series(
        pd.Categorical.from_codes(new_codes, categories=categories), index=values.index
    )


def _as_list(value: object) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]  # type: ignore[attr-defined]
