"""Cleaning canonical interactions: every removed row is counted under exactly one reason.

Steps run in a fixed order and a row is counted by the first step that removes it:

1. ``missing_user_id`` / ``missing_item_id``: an event nobody or nothing can be tied to.
2. ``rating_out_of_range``: a rating outside ``rating_range`` (missing ratings are implicit
   feedback and stay).
3. ``duplicate_pair`` or ``duplicate_exact``, see :func:`clean`.
4. ``k_core``: iterative k-core on users and items.

Timestamps a reader could not parse are already missing and counted in
``StoreData.read_issues``; cleaning keeps those rows and copies the counts into its report.
Finally a boolean ``positive`` column is added beside the raw rating.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from storex.config import CleaningSettings
from storex.data.schema import StoreData, require_columns
from storex.errors import ConfigError, EmptyDataError

logger = logging.getLogger("storex.data.cleaning")

Dedupe = Literal["pair", "exact", "none"]
_DEDUPE_MODES: tuple[str, ...] = ("pair", "exact", "none")


@dataclass
class CleaningReport:
    """What cleaning did, in numbers: enough to explain every row that went missing.

    ``k_core_steps`` holds one entry per k-core round that removed something, with the rows,
    users and items (that lost their last interaction) it removed.
    """

    dataset: str
    input_rows: int
    output_rows: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    read_issues: dict[str, int] = field(default_factory=dict)
    k_core: int = 0
    k_core_rounds: int = 0
    k_core_steps: list[dict[str, int]] = field(default_factory=list)
    positives: int = 0

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (ints, strings, lists, dicts)."""
        return {
            "dataset": self.dataset,
            "input_rows": int(self.input_rows),
            "output_rows": int(self.output_rows),
            "total_dropped": int(self.total_dropped),
            "dropped": {k: int(v) for k, v in self.dropped.items()},
            "read_issues": {k: int(v) for k, v in self.read_issues.items()},
            "k_core": int(self.k_core),
            "k_core_rounds": int(self.k_core_rounds),
            "k_core_steps": [{k: int(v) for k, v in s.items()} for s in self.k_core_steps],
            "positives": int(self.positives),
        }

    def summary(self) -> str:
        """One line for the log."""
        dropped = ", ".join(f"{k}={v}" for k, v in self.dropped.items() if v) or "nothing"
        issues = ", ".join(f"{k}={v}" for k, v in self.read_issues.items() if v) or "none"
        return (
            f"cleaned {self.dataset}: {self.input_rows} -> {self.output_rows} rows; "
            f"dropped {dropped}; read issues {issues}; "
            f"k-core k={self.k_core} in {self.k_core_rounds} round(s); "
            f"{self.positives} positive(s)"
        )


def clean(
    data: StoreData, settings: CleaningSettings, *, dedupe: Dedupe = "pair"
) -> tuple[StoreData, CleaningReport]:
    """Remove unusable and duplicate interactions, apply k-core and mark positives.

    Parameters
    ----------
    data
        A reader's output; it is not modified.
    settings
        ``k_core`` (0 = off), ``implicit_threshold`` and ``rating_range``.
    dedupe
        ``"pair"`` keeps one row per (user, item), the latest by timestamp (a missing timestamp
        counts as earliest; ties go to the later row), as suits ratings where a re-rating
        replaces the old one. ``"exact"`` drops only rows identical in every column, for
        session or event logs where repeated views are real signal. ``"none"`` keeps all.

    Returns
    -------
    The cleaned data and its report. The items table is kept whole (items without
    interactions are still useful for content features and cold-start) and the users table
    as given (it lists only users the source knows). k-core degrees count rows, so with
    ``dedupe="exact"`` or ``"none"`` repeated events count more than once.

    Raises
    ------
    EmptyDataError
        When a step removes every interaction; the message names the step (and k).
    ConfigError
        For an unknown ``dedupe`` mode or an inverted ``rating_range``.
    """
    if dedupe not in _DEDUPE_MODES:
        raise ConfigError(f"dedupe must be one of {list(_DEDUPE_MODES)}, got {dedupe!r}")
    low, high = settings.rating_range
    if not low <= high:
        raise ConfigError(
            f"cleaning.rating_range must be (low, high) with low <= high, got {(low, high)}"
        )
    frame = data.interactions
    where = data.source or None
    require_columns(frame, ("user_id", "item_id", "rating", "timestamp"), where or data.name)

    report = CleaningReport(
        dataset=data.name,
        input_rows=len(frame),
        read_issues={str(k): int(v) for k, v in sorted(data.read_issues.items())},
        k_core=settings.k_core,
    )
    if len(frame) == 0:
        raise EmptyDataError(f"dataset {data.name!r} has no interactions to clean", path=where)

    pruner = _Pruner(len(frame), report, data.name, where)
    users, _ = pd.factorize(frame["user_id"])
    items, _ = pd.factorize(frame["item_id"])
    pruner.drop("missing_user_id", users < 0)
    pruner.drop("missing_item_id", items < 0)

    rating = frame["rating"].to_numpy(dtype=np.float64)
    pruner.drop("rating_out_of_range", ~np.isnan(rating) & ((rating < low) | (rating > high)))

    if dedupe == "pair":
        timestamp = frame["timestamp"].to_numpy(dtype=np.float64)
        pruner.drop("duplicate_pair", _older_pair_duplicates(pruner.keep, users, items, timestamp))
    elif dedupe == "exact":
        pruner.drop("duplicate_exact", _exact_duplicates(frame, pruner.keep))

    if settings.k_core > 0:
        _k_core(pruner, users, items, settings.k_core)

    out = frame.loc[pruner.keep].reset_index(drop=True)
    out = _mark_positives(out, settings.implicit_threshold)
    report.output_rows = len(out)
    report.positives = int(out["positive"].sum())
    logger.info(report.summary())
    cleaned = replace(data, interactions=out, read_issues=Counter(data.read_issues))
    return cleaned, report


class _Pruner:
    """A keep-mask over the input rows that counts each removal under its reason."""

    def __init__(self, n_rows: int, report: CleaningReport, name: str, where: str | None) -> None:
        self.keep = np.ones(n_rows, dtype=bool)
        self.report = report
        self.name = name
        self.where = where

    def drop(self, reason: str, mask: np.ndarray, *, detail: str = "") -> int:
        hit = self.keep & mask
        count = int(hit.sum())
        self.report.dropped[reason] = self.report.dropped.get(reason, 0) + count
        self.keep &= ~hit
        if count and not self.keep.any():
            raise EmptyDataError(
                f"no interactions left in dataset {self.name!r}: step {reason!r}{detail} "
                f"removed the last {count} row(s)",
                path=self.where,
            )
        return count


def _older_pair_duplicates(
    keep: np.ndarray, users: np.ndarray, items: np.ndarray, timestamp: np.ndarray
) -> np.ndarray:
    """Rows that a later row of the same (user, item) supersedes."""
    kept = np.flatnonzero(keep)
    when = np.nan_to_num(timestamp[kept], nan=-np.inf)
    by_time = kept[np.argsort(when, kind="stable")]  # stable: ties stay in row order
    pair = users[by_time].astype(np.int64) * (int(items.max()) + 1) + items[by_time]
    superseded = pd.Series(pair).duplicated(keep="last").to_numpy()
    mask = np.zeros(len(keep), dtype=bool)
    mask[by_time[superseded]] = True
    return mask


def _exact_duplicates(frame: pd.DataFrame, keep: np.ndarray) -> np.ndarray:
    """Kept rows equal in every column to an earlier kept row (missing equals missing).

    One int64 key per row is folded column by column, so only two columns' codes exist at a
    time (``DataFrame.duplicated`` codes every column at once, and on a copy of the rows).
    """
    kept = np.flatnonzero(keep)
    key = np.zeros(kept.size, dtype=np.int64)
    for column in frame.columns:
        codes, distinct = pd.factorize(frame[column].iloc[kept])
        key, _ = pd.factorize(key * (len(distinct) + 1) + (codes + 1))
    repeated = np.zeros(len(frame), dtype=bool)
    repeated[kept[pd.Series(key).duplicated(keep="first").to_numpy()]] = True
    return repeated


def _k_core(pruner: _Pruner, users: np.ndarray, items: np.ndarray, k: int) -> None:
    """Remove users and items with fewer than ``k`` rows until none is left below ``k``.

    Each round removes every row whose user or item is below ``k`` at the start of the round;
    that can push others below ``k``, so rounds repeat until a round finds nothing.
    """
    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    pruner.report.dropped.setdefault("k_core", 0)
    alive = np.flatnonzero(pruner.keep)
    user_count = np.bincount(users[alive], minlength=n_users)
    item_count = np.bincount(items[alive], minlength=n_items)
    while True:
        weak = (user_count[users[alive]] < k) | (item_count[items[alive]] < k)
        if not weak.any():
            return
        round_no = pruner.report.k_core_rounds + 1
        mask = np.zeros(len(pruner.keep), dtype=bool)
        mask[alive[weak]] = True
        alive = alive[~weak]
        new_user_count = np.bincount(users[alive], minlength=n_users)
        new_item_count = np.bincount(items[alive], minlength=n_items)
        pruner.report.k_core_rounds = round_no
        pruner.report.k_core_steps.append(
            {
                "round": round_no,
                "rows": int(weak.sum()),
                "users": int(((user_count > 0) & (new_user_count == 0)).sum()),
                "items": int(((item_count > 0) & (new_item_count == 0)).sum()),
            }
        )
        pruner.drop("k_core", mask, detail=f" with k={k} (round {round_no})")
        user_count, item_count = new_user_count, new_item_count


def _mark_positives(frame: pd.DataFrame, threshold: float | None) -> pd.DataFrame:
    """Insert ``positive`` right after ``rating``; the raw rating stays for explicit models.

    ``frame`` is the cleaning's own copy: the column goes in in place unless one is replaced.
    """
    rating = frame["rating"].to_numpy(dtype=np.float64)
    if threshold is None:
        positive = np.ones(len(frame), dtype=bool)
    else:
        positive = np.isnan(rating) | (rating >= threshold)
    out = frame.drop(columns="positive") if "positive" in frame.columns else frame
    out.insert(int(out.columns.get_loc("rating")) + 1, "positive", positive)
    return out
