"""Item-item co-occurrence graph: "people who touched X also touched Y" within a few steps.

Sequences are the train rows of one session (``session_id``), ordered by time; rows without a
session fall back to one sequence per user, ordered by time and, when ``session_gap_minutes``
is given, cut wherever two consecutive timed rows lie further apart. Rows with an unknown time
keep their table order after the timed rows of their sequence. Two items co-occur when they sit at
most ``window`` positions apart in one sequence; every such occurrence adds 1 to both
directions, so the raw weight is a symmetric count (no normalisation). Self-pairs (an item
repeated within the window) are not counted.

The result keeps, per item, its ``top_n`` heaviest neighbours (ties broken by the smaller item
index). Edges run ``[item; neighbour]``: ``edge_index[1][edge_index[0] == x]`` are the items most
often seen near ``x``, heaviest first. After this cut the graph need not be symmetric.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from storex.errors import ConfigError, DataError
from storex.idmap import IdMap


def build_item_cooccurrence(
    interactions: pd.DataFrame,
    item_map: IdMap,
    *,
    window: int = 3,
    top_n: int = 20,
    positives_only: bool = False,
    session_gap_minutes: float | None = None,
) -> tuple[Tensor, Tensor]:
    """Co-occurrence edges ``(edge_index [2, M] int64, edge_weight [M] float32)`` over items.

    ``positives_only`` restricts the sequences to rows marked ``positive`` (by default every
    train row counts, since browsing sessions are mostly views that are not positives).
    ``session_gap_minutes`` cuts the per-user fallback sequences at long pauses; ``None``
    keeps a user's whole history as one sequence.
    """
    if window < 1 or top_n < 1:
        raise ConfigError(f"window and top_n must be >= 1 (got {window}, {top_n})")
    if session_gap_minutes is not None and session_gap_minutes <= 0:
        raise ConfigError(f"session_gap_minutes must be > 0, got {session_gap_minutes}")
    rows = _train_rows(interactions, positives_only)
    num_items = len(item_map)
    items = item_map.lookup(rows["item_id"])
    if (items < 0).any():
        first = int(np.flatnonzero(items < 0)[0])
        raise DataError(
            f"{int((items < 0).sum())} train row(s) hold items missing from the item map "
            f"(first id {rows['item_id'].iloc[first]!r})",
            column="item_id",
        )
    sequence, by_user = _sequence_codes(rows)
    when = rows["timestamp"].to_numpy(dtype=np.float64, na_value=np.nan)
    order = np.lexsort((np.arange(len(rows)), np.nan_to_num(when), np.isnan(when), sequence))
    sequence, items, when, by_user = sequence[order], items[order], when[order], by_user[order]
    if session_gap_minutes is not None and sequence.size:
        pause = np.zeros(sequence.size, dtype=bool)
        pause[1:] = by_user[1:] & (np.diff(when) > session_gap_minutes * 60.0)
        sequence = np.cumsum(np.r_[True, sequence[1:] != sequence[:-1]] | pause)

    pair_keys, pair_counts = [], []
    for step in range(1, min(window, max(len(items) - 1, 0)) + 1):
        same = sequence[step:] == sequence[:-step]
        a, b = items[:-step][same], items[step:][same]
        distinct = a != b
        a, b = a[distinct], b[distinct]
        # One undirected key per occurrence, counted per step: a fraction of the memory of
        # listing both directions of every occurrence.
        keys, counts = np.unique(
            np.minimum(a, b) * num_items + np.maximum(a, b), return_counts=True
        )
        pair_keys.append(keys)
        pair_counts.append(counts)
        del same, a, b, distinct
    if not pair_keys:
        return torch.empty((2, 0), dtype=torch.long), torch.empty(0, dtype=torch.float32)
    keys, inverse = np.unique(np.concatenate(pair_keys), return_inverse=True)
    counts = np.bincount(inverse, weights=np.concatenate(pair_counts)).astype(np.int64)
    del pair_keys, pair_counts, inverse
    low, high = keys // num_items, keys % num_items
    src, dst = np.concatenate([low, high]), np.concatenate([high, low])
    counts = np.concatenate([counts, counts])
    return _top_n(src, dst, counts, top_n)


def _train_rows(interactions: pd.DataFrame, positives_only: bool) -> pd.DataFrame:
    required = ["user_id", "item_id", "timestamp", "session_id", "split"]
    if positives_only:
        required.append("positive")
    missing = [c for c in required if c not in interactions.columns]
    if missing:
        raise DataError(f"interactions lack column(s) {missing}", column=missing[0])
    mask = (interactions["split"] == "train").fillna(False).to_numpy(dtype=bool)
    if positives_only:
        mask &= interactions["positive"].to_numpy(dtype=bool)
    return interactions.loc[mask, required]  # only the columns read here: a smaller copy


def _sequence_codes(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """One integer per sequence (sessions, then users for sessionless rows) and the user mask."""
    session_codes, sessions = pd.factorize(rows["session_id"], use_na_sentinel=True)
    user_codes, _ = pd.factorize(rows["user_id"])
    by_user = session_codes < 0
    codes = np.where(by_user, len(sessions) + user_codes, session_codes).astype(np.int64)
    return codes, by_user


def _top_n(
    src: np.ndarray, dst: np.ndarray, weight: np.ndarray, top_n: int
) -> tuple[Tensor, Tensor]:
    order = np.lexsort((dst, -weight, src))
    src, dst, weight = src[order], dst[order], weight[order]
    starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    lengths = np.diff(np.r_[starts, src.size])
    rank = np.arange(src.size) - np.repeat(starts, lengths)
    keep = rank < top_n
    edge_index = torch.from_numpy(np.stack([src[keep], dst[keep]]).astype(np.int64))
    return edge_index, torch.from_numpy(weight[keep].astype(np.float32))
