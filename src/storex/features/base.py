"""Building blocks shared by the item and user encoders.

Each block turns one column into a few float columns using statistics learned at fit time, and
describes itself as plain JSON (plus numeric arrays) so that a service can rebuild it exactly,
without pickle.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from storex.errors import DataError, ModelError
from storex.io import read_json, save_with, write_json

STATE_VERSION = 1
_Block = TypeVar("_Block")


def clean_text(values: pd.Series) -> pd.Series:
    """Stripped, case-folded strings with real missing values, so 'Nike ' and 'nike' match."""
    series = values.astype("string").str.strip().str.casefold()
    return series.mask(series == "", pd.NA)


def numeric_column(frame: pd.DataFrame, column: str, table: str) -> np.ndarray:
    """Float values of ``column`` with NaN for missing (and for +-inf); all NaN when absent."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    try:
        values = pd.to_numeric(frame[column], errors="raise")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{table}: expected numbers ({exc})", column=column) from exc
    out = pd.Series(values).astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    out[~np.isfinite(out)] = np.nan
    return out


def non_negative_column(frame: pd.DataFrame, column: str, table: str) -> np.ndarray:
    """Like :func:`numeric_column`, refusing negative values (a price or an age below 0)."""
    values = numeric_column(frame, column, table)
    negative = np.flatnonzero(values < 0)
    if negative.size:
        raise DataError(
            f"{table}: {negative.size} negative {column}(s), e.g. {values[negative[0]]}",
            column=column,
        )
    return values


def key_column(frame: pd.DataFrame, key: str, table: str) -> pd.Index:
    """The id column of a table as a string index; a table without it is a DataError."""
    if key not in frame.columns:
        raise DataError(f"{table}: no {key!r} column", column=key)
    return pd.Index(frame[key].astype("string"))


def as_ids(ids: Sequence[str]) -> pd.Index:
    """External ids as a string index (numbers become their text, as in the id maps)."""
    return pd.Index(pd.Series(list(ids), dtype=object).astype("string"))


def align_rows(
    frame: pd.DataFrame | None, ids: pd.Index, key: str, columns: Sequence[str], table: str
) -> pd.DataFrame:
    """Rows of ``frame`` in the order of ``ids``; ids it lacks get all-missing rows.

    A key column that is absent, missing in some rows or duplicated is a DataError: a
    transform must not silently pick one of two rows for the same id.
    """
    if frame is None:
        return pd.DataFrame(index=pd.RangeIndex(len(ids)), columns=list(columns), dtype=object)
    if key not in frame.columns:
        raise DataError(f"{table}: no {key!r} column; found {list(frame.columns)}", column=key)
    keys = frame[key].astype("string")
    if keys.isna().any():
        raise DataError(f"{table}: {int(keys.isna().sum())} row(s) without an id", column=key)
    dup = keys.duplicated()
    if dup.any():
        raise DataError(
            f"{table}: {int(dup.sum())} duplicated id(s), e.g. {keys[dup].iloc[0]!r}", column=key
        )
    present = [c for c in columns if c in frame.columns]
    table_rows = frame.loc[:, present].set_axis(pd.Index(keys), axis=0)
    aligned = table_rows.reindex(ids).reset_index(drop=True)
    for column in columns:
        if column not in aligned.columns:
            aligned[column] = pd.NA
    return aligned


@dataclass(frozen=True)
class Scaler:
    """A number standardised with fit-time mean and std; missing values become 0 (the mean).

    With ``flag`` a second column marks the missing values, so 0 does not lie about them.
    """

    name: str
    mean: float
    std: float
    flag: bool

    @classmethod
    def fit(cls, name: str, values: np.ndarray, *, flag: bool) -> Scaler:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise ValueError(f"no value to learn {name!r} statistics from")
        std = float(finite.std())
        return cls(name, float(finite.mean()), std if std > 1e-12 else 1.0, flag)

    @property
    def names(self) -> list[str]:
        return [f"{self.name}_z", *([f"{self.name}_missing"] if self.flag else [])]

    def transform(self, values: np.ndarray) -> np.ndarray:
        missing = ~np.isfinite(values)
        scaled = np.where(missing, 0.0, (values - self.mean) / self.std)
        if not self.flag:
            return scaled[:, None]
        return np.column_stack([scaled, missing.astype(np.float64)])

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Scaler:
        return cls(
            str(state["name"]), float(state["mean"]), float(state["std"]), bool(state["flag"])
        )


@dataclass(frozen=True)
class OneHot:
    """One column per known level, then optionally ``other``, then ``missing``.

    Levels are the ``top_n`` most frequent at fit (ties by name, so fits are reproducible).
    Without ``other`` an unknown value gives an all-zero row.
    """

    name: str
    levels: tuple[str, ...]
    other: bool

    @classmethod
    def fit(cls, name: str, values: pd.Series, *, top_n: int | None, other: bool) -> OneHot:
        ranked = _ranked(clean_text(values).value_counts(dropna=True))
        return cls(name, tuple(level for level, _ in ranked[:top_n]), other)

    @property
    def names(self) -> list[str]:
        extra = ["other"] if self.other else []
        return [f"{self.name}={v}" for v in self.levels] + [
            f"{self.name}_{e}" for e in [*extra, "missing"]
        ]

    def transform(self, values: pd.Series) -> np.ndarray:
        clean = clean_text(values)
        missing = clean.isna().to_numpy()
        codes = pd.Index(self.levels, dtype="string").get_indexer(clean)
        out = np.zeros((len(clean), len(self.names)))
        rows = np.flatnonzero(codes >= 0)
        out[rows, codes[rows]] = 1.0
        if self.other:
            out[:, len(self.levels)] = (~missing) & (codes < 0)
        out[:, -1] = missing
        return out

    def to_state(self) -> dict[str, Any]:
        return {"name": self.name, "levels": list(self.levels), "other": self.other}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> OneHot:
        return cls(str(state["name"]), tuple(str(v) for v in state["levels"]), bool(state["other"]))


@dataclass(frozen=True)
class MultiHot:
    """Several levels per row (a category path, genres): one column per vocabulary level.

    The vocabulary keeps the ``max_levels`` most frequent levels seen in at least ``min_count``
    rows at fit. Levels seen at fit but left out are counted in ``other``; levels never seen at
    fit are ignored. ``missing`` marks rows with no level at all.
    """

    name: str
    levels: tuple[str, ...]
    rare: tuple[str, ...]

    @classmethod
    def fit(cls, name: str, lists: pd.Series, *, max_levels: int, min_count: int) -> MultiHot:
        _, values = _explode(lists)
        ranked = _ranked(values.value_counts())
        kept = [level for level, n in ranked if n >= min_count][:max_levels]
        kept_set = set(kept)
        rare = sorted(level for level, _ in ranked if level not in kept_set)
        return cls(name, tuple(kept), tuple(rare))

    @property
    def names(self) -> list[str]:
        return [f"{self.name}={v}" for v in self.levels] + [
            f"{self.name}_other",
            f"{self.name}_missing",
        ]

    def transform(self, lists: pd.Series) -> np.ndarray:
        n = len(lists)
        rows, values = _explode(lists)
        out = np.zeros((n, len(self.levels) + 2))
        codes = pd.Index(self.levels, dtype="string").get_indexer(values)
        known = codes >= 0
        out[rows[known], codes[known]] = 1.0
        is_rare = values.isin(self.rare).to_numpy()
        out[:, len(self.levels)] = np.bincount(rows[is_rare], minlength=n)
        out[:, -1] = np.bincount(rows, minlength=n) == 0
        return out

    def to_state(self) -> dict[str, Any]:
        return {"name": self.name, "levels": list(self.levels), "rare": list(self.rare)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> MultiHot:
        return cls(
            str(state["name"]),
            tuple(str(v) for v in state["levels"]),
            tuple(str(v) for v in state["rare"]),
        )


def _explode(lists: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(row position, cleaned level) pairs, one per distinct level of each row."""
    flat = pd.Series(lists.to_numpy(dtype=object), dtype=object).explode()
    pairs = pd.DataFrame({"row": flat.index.to_numpy(), "value": clean_text(flat).to_numpy()})
    pairs = pairs.dropna().drop_duplicates()
    return pairs["row"].to_numpy(dtype=np.int64), pairs["value"].astype("string")


def _ranked(counts: pd.Series) -> list[tuple[str, int]]:
    """(level, count) by decreasing count, ties by name, so refits give the same columns."""
    pairs = [(str(level), int(n)) for level, n in counts.items()]
    return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))


def maybe_block(
    build: Callable[[dict[str, Any]], _Block], state: dict[str, Any] | None
) -> _Block | None:
    """Rebuild an optional block: None in the saved state means the block was left out."""
    return None if state is None else build(state)


def write_state(
    folder: str | Path, stem: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]
) -> None:
    """Write ``stem.npz`` (arrays) then ``stem.json`` (everything else), each atomically.

    The JSON carries the SHA-256 of the arrays file, so a reader detects a mix of two saves.
    """
    folder = Path(folder)
    npz_path = folder / f"{stem}.npz"

    def write_arrays(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.savez(handle, **arrays)

    save_with(npz_path, write_arrays)
    digest = hashlib.sha256(npz_path.read_bytes()).hexdigest()
    write_json(
        folder / f"{stem}.json",
        {"format": stem, "version": STATE_VERSION, **meta, "arrays_sha256": digest},
    )


def read_state(folder: str | Path, stem: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read what :func:`write_state` wrote; any missing or damaged file is a ModelError."""
    folder = Path(folder)
    json_path, npz_path = folder / f"{stem}.json", folder / f"{stem}.npz"
    try:
        meta = read_json(json_path)
    except FileNotFoundError as exc:
        raise ModelError(f"{json_path}: missing; was the encoder saved here?") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"{json_path}: not readable JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != stem:
        raise ModelError(f"{json_path}: not a {stem} file")
    if meta.get("version") != STATE_VERSION:
        raise ModelError(
            f"{json_path}: format version {meta.get('version')!r}, expected {STATE_VERSION}"
        )
    try:
        raw = npz_path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{npz_path}: missing or unreadable ({exc})") from exc
    if hashlib.sha256(raw).hexdigest() != meta.get("arrays_sha256"):
        raise ModelError(f"{npz_path}: does not match {json_path.name} (damaged or mixed saves)")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{npz_path}: not a readable array file ({exc})") from exc
    return meta, arrays
