"""Train/valid/test splits of the interactions, free of leakage, deterministic under a seed.

Every strategy labels each row train, valid, test or dropped (temporal gaps only). Then
valid/test rows that would leak are removed and counted, in this order:

- ``pair_in_train``: the same (user, item) is in train (a repeat event would be an easy hit);
- ``unseen_user`` / ``unseen_item``: the user or item never appears in train, so a
  transductive model has no embedding for it (not for cold strategies, where unseen is the
  point). The per-user strategies (random, leave-last-out) keep unseen items: an item rated
  once lands outside train by chance, it is still in the catalog with its features, and
  removing it would make published counts disagree and flatter every model.
  Train is never touched, so one removal never causes another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from storex.config import SplitSettings
from storex.data.schema import SPLITS, require_columns
from storex.errors import DataError, EmptyDataError

logger = logging.getLogger("storex.data.splits")

TRAIN: Final = 0
VALID: Final = 1
TEST: Final = 2
DROPPED: Final = -1
LEAK_REASONS: Final = ("pair_in_train", "unseen_user", "unseen_item")
PER_USER_STRATEGIES: Final = ("random", "leave-last-out")
_SECONDS_PER_DAY: Final = 86_400.0


@dataclass(frozen=True)
class SplitResult:
    """Split interactions (``split`` column filled, index 0..n-1) and what the split did.

    ``report`` holds ``strategy``, ``seed``, ``ratios``, ``gap_days``, ``input_rows``,
    ``rows`` (per split), ``dropped`` (reason -> rows removed) and ``kept_leaks``
    (reason -> leaking rows deliberately kept: pre-split data and cold strategies).
    ``train``/``valid``/``test`` keep the index of ``interactions``.
    """

    interactions: pd.DataFrame
    report: dict[str, Any]

    @property
    def train(self) -> pd.DataFrame:
        return self._part("train")

    @property
    def valid(self) -> pd.DataFrame:
        return self._part("valid")

    @property
    def test(self) -> pd.DataFrame:
        return self._part("test")

    def _part(self, name: str) -> pd.DataFrame:
        return self.interactions.loc[(self.interactions["split"] == name).to_numpy()]


@dataclass(frozen=True)
class _Codes:
    """Dense integer codes of users, items and (user, item) pairs, one per row."""

    users: np.ndarray
    items: np.ndarray
    pairs: np.ndarray
    n_users: int
    n_items: int
    n_pairs: int


def split_interactions(interactions: pd.DataFrame, settings: SplitSettings) -> SplitResult:
    """Label every row train/valid/test by ``settings.strategy`` and remove leaking rows.

    Strategies
    ----------
    random
        Per user, a seeded shuffle cut at the cumulative ratios. Cut points are rounded
        stochastically, ``floor(n * ratio + u)`` with one seeded ``u`` in [0, 1) per user, so
        the totals match the ratios in expectation even when most users have few rows; every
        user keeps at least one row in train.
    temporal
        Global cut times at the ratio quantiles of the rows in time order (rows at a cut time
        go to the later part). The ``gap_days`` blackout is taken from the end of the earlier
        part, so test keeps its share; rows in a blackout are dropped as ``gap``. Every row
        needs a timestamp.
    leave-last-out
        Per user, the last row (by time, ties by row order) is test and the one before valid;
        users with fewer than 3 rows stay whole in train. Every row needs a timestamp.
    cold-users / cold-items
        A seeded shuffle of users (items) cut at the ratios of their number: all rows of a
        held-out user (item) go to valid or test. Unseen users and items are kept.

    Pre-split data (the ``split`` column filled) is kept exactly as given, whatever the
    strategy: published splits must be evaluated as published to be comparable. Leaking rows
    are then only counted, under ``kept_leaks``. Pre-split data without valid rows gets a
    valid part drawn from train (counted as ``valid_from_train``) unless the ratios give valid
    no share; test stays as given.

    Raises
    ------
    DataError
        Missing ids, an unknown or partly missing ``split`` label, or rows without a
        timestamp for a strategy that orders by time; the message names the column.
    EmptyDataError
        No rows at all, or no training row left.
    """
    require_columns(interactions, ("user_id", "item_id"), "interactions")
    if len(interactions) == 0:
        raise EmptyDataError("no interactions to split")
    codes = _codes(interactions)
    presplit = "split" in interactions and bool(interactions["split"].notna().any())
    strategy = "presplit" if presplit else settings.strategy
    dropped: dict[str, int] = {}
    valid_from_train = 0
    if presplit:
        labels = _given_labels(interactions["split"])
        if not (labels == VALID).any() and settings.ratios[1] > 0:
            labels = _valid_from_train(interactions, labels, settings)
            valid_from_train = int((labels == VALID).sum())
    else:
        labels = _STRATEGIES[strategy](interactions, codes, settings, dropped)

    leaks = _leaks(labels, codes)
    kept_leaks: dict[str, int] = {}
    for reason in LEAK_REASONS:
        count = int(leaks[reason].sum())
        if _keeps(strategy, reason):
            kept_leaks[reason] = count
        else:
            dropped[reason] = count
            labels[leaks[reason]] = DROPPED

    if not (labels == TRAIN).any():
        raise EmptyDataError(f"the {strategy} split left no training rows", column="split")
    out = interactions.loc[labels != DROPPED].reset_index(drop=True)
    kept_labels = labels[labels != DROPPED]
    out["split"] = _split_column(kept_labels, compact=_is_categorical(interactions["user_id"]))
    report: dict[str, Any] = {
        "strategy": strategy,
        "seed": settings.seed,
        "ratios": list(settings.ratios),
        "gap_days": settings.gap_days,
        "input_rows": len(interactions),
        "rows": {name: int((kept_labels == code).sum()) for code, name in enumerate(SPLITS)},
        "dropped": dropped,
        "kept_leaks": kept_leaks,
        "valid_from_train": valid_from_train,
    }
    logger.info(
        "split %d rows by %s (seed %d): %s; dropped %s; kept leaks %s",
        len(interactions),
        strategy,
        settings.seed,
        report["rows"],
        dropped or "nothing",
        kept_leaks or "none",
    )
    return SplitResult(interactions=out, report=report)


def _is_categorical(values: pd.Series) -> bool:
    return isinstance(values.dtype, pd.CategoricalDtype)


def _split_column(labels: np.ndarray, *, compact: bool) -> pd.api.extensions.ExtensionArray:
    """Split names per row: categorical for a compact (categorical) frame, else strings."""
    if compact:
        return pd.Categorical.from_codes(labels.astype(np.int8), categories=list(SPLITS))
    return pd.array(np.asarray(SPLITS, dtype=object)[labels], dtype="string")


def _codes(frame: pd.DataFrame) -> _Codes:
    users, user_ids = pd.factorize(frame["user_id"])
    items, item_ids = pd.factorize(frame["item_id"])
    for column, values in (("user_id", users), ("item_id", items)):
        missing = int((values < 0).sum())
        if missing:
            raise DataError(
                f"{missing} row(s) have no id; clean the interactions before splitting",
                column=column,
            )
    pairs, pair_ids = pd.factorize(users.astype(np.int64) * len(item_ids) + items)
    return _Codes(users, items, pairs, len(user_ids), len(item_ids), len(pair_ids))


def _given_labels(split: pd.Series) -> np.ndarray:
    """Codes of a pre-filled ``split`` column; every row must carry a known label."""
    labels = pd.Series(split.astype("string")).map({name: code for code, name in enumerate(SPLITS)})
    unknown = split.notna() & labels.isna()
    if unknown.any():
        found = sorted(map(str, split[unknown].unique()))[:5]
        raise DataError(
            f"{int(unknown.sum())} row(s) have an unknown split label {found}; "
            f"expected one of {list(SPLITS)}",
            column="split",
        )
    missing = int(split.isna().sum())
    if missing:
        raise DataError(
            f"{missing} row(s) have no split label while the others do; pre-split data "
            "must label every row",
            column="split",
        )
    return labels.to_numpy(dtype=np.int64)


def _valid_from_train(
    frame: pd.DataFrame, labels: np.ndarray, settings: SplitSettings
) -> np.ndarray:
    """Labels with a valid part drawn from each user's training rows, for pre-split data
    published without one (LightGCN's train/test files): early stopping and tuning then
    never look at test. The share of train that moves is ``valid / (train + valid)`` of the
    ratios, by the seeded per-user cut of the random strategy."""
    train_share, valid_share, _ = settings.ratios
    ratios = (train_share / (train_share + valid_share), valid_share / (train_share + valid_share))
    train_rows = np.flatnonzero(labels == TRAIN)
    subset = frame.iloc[train_rows]
    carve = settings.model_copy(update={"ratios": (*ratios, 0.0)})
    carved = _random(subset, _codes(subset), carve, {})
    labels = labels.copy()
    labels[train_rows] = np.minimum(carved, VALID)
    return labels


def _timestamps(frame: pd.DataFrame, strategy: str) -> np.ndarray:
    require_columns(frame, ("timestamp",), "interactions")
    when = frame["timestamp"].to_numpy(dtype=np.float64)
    missing = int((~np.isfinite(when)).sum())
    if missing:
        raise DataError(
            f"{missing} row(s) have no usable timestamp; the {strategy} split orders rows "
            "by time and needs one on every row",
            column="timestamp",
        )
    return when


def _random(
    frame: pd.DataFrame, codes: _Codes, settings: SplitSettings, dropped: dict[str, int]
) -> np.ndarray:
    rng = np.random.default_rng(settings.seed)
    counts = np.bincount(codes.users, minlength=codes.n_users)
    shuffled = rng.permutation(len(frame))
    order = shuffled[np.argsort(codes.users[shuffled], kind="stable")]
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(frame), dtype=np.int64)
    rank[order] = np.arange(len(frame)) - starts[codes.users[order]]
    offset = rng.random(codes.n_users)
    train_share, valid_share, _ = settings.ratios
    cut_train = np.maximum(np.floor(counts * train_share + offset), 1)
    cut_valid = np.maximum(np.floor(counts * (train_share + valid_share) + offset), cut_train)
    return _by_cut(rank, cut_train[codes.users], cut_valid[codes.users])


def _temporal(
    frame: pd.DataFrame, codes: _Codes, settings: SplitSettings, dropped: dict[str, int]
) -> np.ndarray:
    when = _timestamps(frame, "temporal")
    ordered = np.sort(when)
    n = len(when)
    train_share, valid_share, _ = settings.ratios

    def cut_time(share: float) -> float:
        position = min(int(np.floor(n * share + 0.5)), n)
        return float(ordered[position]) if position < n else np.inf

    valid_from = cut_time(train_share)
    test_from = cut_time(train_share + valid_share)
    gap = settings.gap_days * _SECONDS_PER_DAY
    labels = np.full(n, DROPPED, dtype=np.int64)
    labels[when < valid_from - gap] = TRAIN
    labels[(when >= valid_from) & (when < test_from - gap)] = VALID
    labels[when >= test_from] = TEST
    dropped["gap"] = int((labels == DROPPED).sum())
    return labels


def _leave_last_out(
    frame: pd.DataFrame, codes: _Codes, settings: SplitSettings, dropped: dict[str, int]
) -> np.ndarray:
    when = _timestamps(frame, "leave-last-out")
    n = len(when)
    order = np.lexsort((np.arange(n), when, codes.users))
    counts = np.bincount(codes.users, minlength=codes.n_users)
    ends = np.cumsum(counts)
    from_end = np.empty(n, dtype=np.int64)
    from_end[order] = ends[codes.users[order]] - 1 - np.arange(n)
    long_enough = counts[codes.users] >= 3
    labels = np.full(n, TRAIN, dtype=np.int64)
    labels[long_enough & (from_end == 1)] = VALID
    labels[long_enough & (from_end == 0)] = TEST
    return labels


def _keeps(strategy: str, reason: str) -> bool:
    """Whether a leak of this kind is kept (counted only) under this strategy."""
    if strategy == "presplit":
        return True
    if strategy.startswith("cold-"):
        return reason != "pair_in_train"
    return strategy in PER_USER_STRATEGIES and reason == "unseen_item"


def _cold(group: np.ndarray, n_groups: int, settings: SplitSettings) -> np.ndarray:
    """Hold out whole groups (users or items): a seeded shuffle cut at the ratios."""
    rng = np.random.default_rng(settings.seed)
    position = np.empty(n_groups, dtype=np.int64)
    position[rng.permutation(n_groups)] = np.arange(n_groups)
    train_share, valid_share, _ = settings.ratios
    cut_train = np.floor(n_groups * train_share + 0.5)
    cut_valid = np.floor(n_groups * (train_share + valid_share) + 0.5)
    return _by_cut(position, cut_train, cut_valid)[group]


def _cold_users(
    frame: pd.DataFrame, codes: _Codes, settings: SplitSettings, dropped: dict[str, int]
) -> np.ndarray:
    return _cold(codes.users, codes.n_users, settings)


def _cold_items(
    frame: pd.DataFrame, codes: _Codes, settings: SplitSettings, dropped: dict[str, int]
) -> np.ndarray:
    return _cold(codes.items, codes.n_items, settings)


def _by_cut(rank: np.ndarray, cut_train: Any, cut_valid: Any) -> np.ndarray:
    return np.where(rank < cut_train, TRAIN, np.where(rank < cut_valid, VALID, TEST))


def _leaks(labels: np.ndarray, codes: _Codes) -> dict[str, np.ndarray]:
    """Disjoint masks of valid/test rows that leak, by the first reason that applies."""
    train = labels == TRAIN
    held_out = labels > TRAIN
    pair_seen = np.zeros(codes.n_pairs, dtype=bool)
    pair_seen[codes.pairs[train]] = True
    user_seen = np.zeros(codes.n_users, dtype=bool)
    user_seen[codes.users[train]] = True
    item_seen = np.zeros(codes.n_items, dtype=bool)
    item_seen[codes.items[train]] = True
    pair_in_train = held_out & pair_seen[codes.pairs]
    unseen_user = held_out & ~user_seen[codes.users]
    unseen_item = held_out & ~unseen_user & ~item_seen[codes.items]
    return {
        "pair_in_train": pair_in_train,
        "unseen_user": unseen_user,
        "unseen_item": unseen_item,
    }


_STRATEGIES: Final[
    dict[str, Callable[[pd.DataFrame, _Codes, SplitSettings, dict[str, int]], np.ndarray]]
] = {
    "random": _random,
    "temporal": _temporal,
    "leave-last-out": _leave_last_out,
    "cold-users": _cold_users,
    "cold-items": _cold_items,
}
