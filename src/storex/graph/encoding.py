"""The interactions table as tensors: per-row edges, per-row labels and a content fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from storex.data.schema import INTERACTION_COLUMNS, SPLITS, text_codes
from storex.errors import DataError
from storex.graph.artifacts import SPLIT_CODES
from storex.idmap import IdMap

_HASH_CHUNK = 1_000_000
_REQUIRED = ("user_id", "item_id", "rating", "timestamp", "split", "positive")


def encode_interactions(
    interactions: pd.DataFrame, user_map: IdMap, item_map: IdMap
) -> tuple[Tensor, dict[str, Tensor]]:
    """Every interaction row as an edge ``[user_idx; item_idx]`` plus its per-edge labels.

    Returns ``edge_index`` (int64, ``[2, E]``, frame order) and a dict with ``rating`` (float32,
    NaN when implicit), ``positive`` (bool), ``timestamp`` (float64, NaN unknown) and ``split``
    (int8: 0 train, 1 valid, 2 test). Unknown ids, a missing or non-bool ``positive`` column and
    rows without a valid split raise DataError naming the column.
    """
    missing = [c for c in _REQUIRED if c not in interactions.columns]
    if missing:
        raise DataError(f"interactions lack column(s) {missing}", column=missing[0])
    users = _lookup(user_map, interactions["user_id"], "user_id")
    items = _lookup(item_map, interactions["item_id"], "item_id")
    split = _split_codes(interactions["split"])
    bad = split < 0
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{int(bad.sum())} row(s) have no split in {list(SPLITS)} "
            f"(first: row {first}, value {interactions['split'].iloc[first]!r})",
            column="split",
        )
    positive = interactions["positive"]
    if not pd.api.types.is_bool_dtype(positive.dtype) or positive.isna().any():
        raise DataError(
            f"expected bool values without missing ones, got dtype {positive.dtype}",
            column="positive",
        )
    labels = {
        "rating": _float_tensor(interactions["rating"], np.float32),
        "positive": torch.from_numpy(positive.to_numpy(dtype=bool).copy()),
        "timestamp": _float_tensor(interactions["timestamp"], np.float64),
        "split": torch.from_numpy(split.astype(np.int8)),
    }
    return torch.from_numpy(np.stack([users, items])), labels


def features_tensor(x: np.ndarray, rows: int, names: Sequence[str], what: str) -> Tensor:
    """Node features as float32 ``[rows, n_features]``; a wrong shape raises DataError."""
    array = np.asarray(x, dtype=np.float32)
    if array.size == 0 and array.ndim < 2:
        array = array.reshape(rows, 0)
    if array.ndim != 2 or array.shape[0] != rows:
        raise DataError(f"{what} has shape {array.shape}, expected ({rows}, n_features)")
    if names and array.shape[1] != len(names):
        raise DataError(f"{what} has {array.shape[1]} columns but {len(names)} feature names")
    return torch.from_numpy(np.ascontiguousarray(array))


def interactions_fingerprint(interactions: pd.DataFrame) -> str:
    """SHA-256 over the canonical columns (and ``positive``), in row order.

    Text is hashed as UTF-8 with missing values as a NUL marker; numbers as float64 with one
    NaN pattern, so equal content gives an equal fingerprint across runs and machines. Rows
    are hashed in chunks (the same bytes as all at once), text through the column's codes, so
    a big table is never held as Python strings whole.
    """
    digest = hashlib.sha256(f"rows={len(interactions)}".encode())
    for column in (*INTERACTION_COLUMNS, "positive"):
        if column not in interactions.columns:
            continue
        values = interactions[column]
        digest.update(f"\x1e{column}\x1e".encode())
        if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values):
            for start in range(0, len(values), _HASH_CHUNK):
                chunk = values.iloc[start : start + _HASH_CHUNK]
                numbers = chunk.to_numpy(dtype=np.float64, na_value=np.nan).copy()
                numbers[np.isnan(numbers)] = np.nan
                digest.update(np.ascontiguousarray(numbers).tobytes())
        else:
            _hash_text(digest, values)
    return digest.hexdigest()


def _hash_text(digest: hashlib._Hash, values: pd.Series) -> None:
    """``"\x1f".join(texts)`` as UTF-8, missing values as NUL, fed chunk by chunk."""
    codes, distinct = text_codes(values)
    texts = np.empty(len(distinct) + 1, dtype=object)  # not np.append: NumPy text drops NUL
    texts[:-1] = pd.Series(distinct, dtype="string").to_numpy(dtype=object)
    texts[-1] = "\x00"
    for start in range(0, codes.size, _HASH_CHUNK):
        if start:
            digest.update(b"\x1f")
        chunk = texts[codes[start : start + _HASH_CHUNK]]  # code -1 picks the NUL marker
        digest.update("\x1f".join(chunk.tolist()).encode("utf-8", "surrogatepass"))


def _split_codes(split: pd.Series) -> np.ndarray:
    """0/1/2 per row by split name; -1 where it is missing or not a split."""
    codes, distinct = text_codes(split)
    per_value = pd.Series(distinct, dtype="string").map(SPLIT_CODES)
    table = np.append(per_value.fillna(-1).to_numpy(dtype=np.int64), -1)
    return table[codes]


def _lookup(mapping: IdMap, ids: pd.Series, column: str) -> np.ndarray:
    codes = mapping.lookup(ids)
    unknown = codes < 0
    if unknown.any():
        first = int(np.flatnonzero(unknown)[0])
        raise DataError(
            f"{int(unknown.sum())} row(s) hold ids missing from the id map "
            f"(first: row {first}, id {ids.iloc[first]!r})",
            column=column,
        )
    return codes


def _float_tensor(values: pd.Series, dtype: type) -> Tensor:
    return torch.from_numpy(pd.to_numeric(values).to_numpy(dtype=dtype, na_value=np.nan).copy())
