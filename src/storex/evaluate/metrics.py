"""Top-K ranking metrics and rating errors, vectorised over a batch of users.

Hits are looked up once at the largest K; every metric at every smaller K is read from that
one boolean matrix, so asking for more cut-offs costs almost nothing. Definitions follow the
LightGCN reference code: binary relevance, precision divides by K, recall by the number of
truth items, and the ideal DCG sums the first ``min(K, |truth|)`` discounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from torch import Tensor

from storex.errors import ConfigError

RANKING_METRICS: tuple[str, ...] = ("precision", "recall", "ndcg", "hit_rate", "mrr")
"""Families computed per user from the hit matrix, reported as ``"{family}@{k}"``."""

RATING_METRICS: tuple[str, ...] = ("rmse", "mae")
"""Errors of a rating head on rated pairs; the same under every ranking protocol."""

LOWER_IS_BETTER: frozenset[str] = frozenset(RATING_METRICS)

REPORT_ORDER: tuple[str, ...] = (
    "recall", "ndcg", "precision", "hit_rate", "mrr", "coverage", "rmse", "mae"
)  # fmt: skip
"""Column order of tables and charts: the headline metrics of the literature first."""


def check_ks(ks: Iterable[int]) -> tuple[int, ...]:
    """The cut-offs as sorted unique positive ints; bad ones raise :class:`ConfigError`."""
    values = list(ks)
    if not values:
        raise ConfigError("ks must hold at least one cut-off K")
    for k in values:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ConfigError(f"every K must be a positive integer, got {k!r}")
    return tuple(sorted({int(k) for k in values}))


def hit_matrix(top_items: np.ndarray | Tensor, truth: sp.spmatrix) -> np.ndarray:
    """Whether the item at each rank is relevant: ``(B, K)`` bool.

    Parameters
    ----------
    top_items
        Item indices best first, shape ``(B, K)``.
    truth
        Users x items matrix whose row ``b`` holds the relevant items of ``top_items[b]``
        (non-zeros count as relevant).
    """
    top = _as_array(top_items).astype(np.int64, copy=False)
    truth = _binary_csr(truth)
    if top.ndim != 2:
        raise ValueError(f"top_items must be (B, K), got shape {top.shape}")
    if truth.shape[0] != top.shape[0]:
        raise ValueError(f"{top.shape[0]} ranked rows but {truth.shape[0]} truth rows")
    num_items = truth.shape[1]
    if top.size and (top.min() < 0 or top.max() >= num_items):
        raise ValueError(f"top_items holds indices outside 0..{num_items - 1}")
    rows = np.arange(top.shape[0], dtype=np.int64)
    truth_keys = np.repeat(rows, np.diff(truth.indptr)) * num_items + truth.indices
    return np.isin(rows[:, None] * num_items + top, truth_keys)


def ranking_metrics(
    hits: np.ndarray, num_truth: np.ndarray | Sequence[int], ks: Iterable[int]
) -> dict[str, np.ndarray]:
    """Per-user precision, recall, NDCG, hit rate and reciprocal rank at each K.

    Parameters
    ----------
    hits
        ``(B, W)`` bool, relevance of each ranked item. ``W`` may be smaller than a K (a
        catalog smaller than K): the missing ranks count as misses, precision still divides
        by K.
    num_truth
        Number of relevant items per user; each must be at least 1 (recall is undefined
        otherwise, so callers keep only users with truth).
    """
    hits = np.asarray(hits, dtype=bool)
    counts = np.asarray(num_truth, dtype=np.int64)
    if hits.ndim != 2 or counts.shape != (hits.shape[0],):
        raise ValueError(f"hits {hits.shape} and num_truth {counts.shape} do not line up")
    if counts.size and counts.min() < 1:
        raise ValueError("every user needs at least one truth item")
    if (hits.sum(axis=1) > counts).any():
        raise ValueError("a user has more hits than truth items (repeated items in a list?)")
    ks = check_ks(ks)
    hits = hits[:, : max(ks)]
    width = hits.shape[1]
    discount = 1.0 / np.log2(np.arange(2, max(ks) + 2))
    ideal = np.cumsum(discount)
    cum_hits = np.cumsum(hits, axis=1, dtype=np.float64)
    cum_gain = np.cumsum(hits * discount[:width], axis=1)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1), width)

    out: dict[str, np.ndarray] = {}
    for k in ks:
        w = min(k, width)
        found = cum_hits[:, w - 1] if w else np.zeros(len(counts))
        gain = cum_gain[:, w - 1] if w else np.zeros(len(counts))
        out[f"precision@{k}"] = found / k
        out[f"recall@{k}"] = found / counts
        out[f"ndcg@{k}"] = gain / ideal[np.minimum(counts, k) - 1]
        out[f"hit_rate@{k}"] = (found > 0).astype(np.float64)
        out[f"mrr@{k}"] = np.where(first < w, 1.0 / (first + 1), 0.0)
    return {name: out[name] for name in metric_names(ks)}


def metric_sort_key(name: str) -> tuple[int, str, int]:
    """Sort key putting ``name`` in :data:`REPORT_ORDER`, then by K (unknown names last)."""
    family, _, k = name.partition("@")
    rank = REPORT_ORDER.index(family) if family in REPORT_ORDER else len(REPORT_ORDER)
    return rank, family, int(k) if k.isdigit() else 0


def metric_names(ks: Iterable[int]) -> list[str]:
    """``["precision@5", ..., "mrr@20"]`` in report order (family, then K)."""
    ks = check_ks(ks)
    return [f"{family}@{k}" for family in RANKING_METRICS for k in ks]


def topk_metrics(
    top_items: np.ndarray | Tensor, truth: sp.spmatrix, ks: Iterable[int]
) -> dict[str, float]:
    """Mean of :func:`ranking_metrics` over the users (rows) of ``truth``."""
    truth = _binary_csr(truth)
    per_user = ranking_metrics(hit_matrix(top_items, truth), np.diff(truth.indptr), ks)
    return {name: float(values.mean()) for name, values in per_user.items()}


def catalog_coverage(top_items: np.ndarray | Tensor, num_items: int) -> float:
    """Share of the catalog that appears in at least one user's list."""
    if num_items < 1:
        raise ValueError(f"num_items must be positive, got {num_items}")
    return float(np.unique(_as_array(top_items)).size / num_items)


def rmse(predicted: np.ndarray | Tensor, target: np.ndarray | Tensor) -> float:
    """Root mean squared error of rating predictions."""
    pred, true = _rating_pair(predicted, target)
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def mae(predicted: np.ndarray | Tensor, target: np.ndarray | Tensor) -> float:
    """Mean absolute error of rating predictions."""
    pred, true = _rating_pair(predicted, target)
    return float(np.mean(np.abs(pred - true)))


class RankingAccumulator:
    """Sums per-user metrics batch by batch; :meth:`result` gives the means and coverage."""

    def __init__(self, ks: Iterable[int], num_items: int) -> None:
        self.ks = check_ks(ks)
        self.num_items = num_items
        self.users = 0
        self._sums = dict.fromkeys(metric_names(self.ks), 0.0)
        self._seen = {k: np.zeros(num_items, dtype=bool) for k in self.ks}

    def add(self, top_items: np.ndarray | Tensor, truth: sp.spmatrix) -> None:
        """One batch: ranked items ``(B, >= max K or whole catalog)`` and truth rows."""
        top = _as_array(top_items)
        truth = _binary_csr(truth)
        per_user = ranking_metrics(hit_matrix(top, truth), np.diff(truth.indptr), self.ks)
        for name, values in per_user.items():
            self._sums[name] += float(values.sum())
        for k, seen in self._seen.items():
            seen[top[:, :k].ravel()] = True
        self.users += top.shape[0]

    def result(self) -> dict[str, float]:
        """Means over every user added, then ``coverage@K``; empty when no user was added."""
        if not self.users:
            return {}
        means = {name: total / self.users for name, total in self._sums.items()}
        for k, seen in self._seen.items():
            means[f"coverage@{k}"] = float(seen.sum() / self.num_items)
        return means


def _as_array(values: np.ndarray | Tensor) -> np.ndarray:
    if isinstance(values, Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _binary_csr(matrix: sp.spmatrix) -> sp.csr_matrix:
    """A CSR copy without stored zeros, so every stored entry is one relevant item."""
    csr = sp.csr_matrix(matrix, copy=True)
    csr.eliminate_zeros()
    csr.sum_duplicates()
    return csr


def _rating_pair(
    predicted: np.ndarray | Tensor, target: np.ndarray | Tensor
) -> tuple[np.ndarray, np.ndarray]:
    pred = _as_array(predicted).astype(np.float64).ravel()
    true = _as_array(target).astype(np.float64).ravel()
    if pred.shape != true.shape:
        raise ValueError(f"{pred.size} predictions for {true.size} ratings")
    if not pred.size:
        raise ValueError("no ratings to compare")
    if not (np.isfinite(pred).all() and np.isfinite(true).all()):
        raise ValueError("ratings and predictions must be finite (NaN or inf found)")
    return pred, true
