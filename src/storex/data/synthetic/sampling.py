"""Vectorised draws from many categorical distributions at once.

All the distributions live as rows of one flat, increasing array: row ``r`` holds
``r + cumsum(p_r)``, so one search serves draws from different rows, and a draw limited to
a contiguous slice of columns (a category) is a draw between two cumulative values of that
row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_STRIDE = 64  # the coarse index keeps every 64th value; a final search covers 64 values


@dataclass(frozen=True)
class StackedCdf:
    """Cumulative rows of ``width`` columns, searchable in bulk."""

    flat: np.ndarray
    coarse: np.ndarray
    width: int

    @classmethod
    def from_weights(cls, weights: np.ndarray) -> StackedCdf:
        """Each row of non-negative ``weights`` (positive sum) becomes a distribution."""
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 2 or weights.shape[1] == 0:
            raise ValueError("weights must be a non-empty 2-D array")
        if (weights < 0).any() or not (weights.sum(axis=1) > 0).all():
            raise ValueError("every row needs non-negative weights with a positive sum")
        cdf = np.cumsum(weights, axis=1)
        cdf /= cdf[:, -1:]
        cdf[:, -1] = 1.0
        cdf += np.arange(weights.shape[0], dtype=np.float64)[:, None]
        flat = cdf.ravel()
        return cls(flat=flat, coarse=flat[::_STRIDE].copy(), width=weights.shape[1])

    def draw(
        self, rows: np.ndarray, lo: np.ndarray | int, hi: np.ndarray | int, u: np.ndarray
    ) -> np.ndarray:
        """Column drawn from row ``rows[j]`` restricted to columns ``lo[j]..hi[j]-1``.

        ``u`` holds one uniform number in [0, 1) per draw.
        """
        rows = np.asarray(rows, dtype=np.int64)
        lo = np.broadcast_to(np.asarray(lo, dtype=np.int64), rows.shape)
        hi = np.broadcast_to(np.asarray(hi, dtype=np.int64), rows.shape)
        base = rows * self.width
        start = np.where(lo > 0, self.flat[base + np.maximum(lo - 1, 0)], rows.astype(float))
        stop = self.flat[base + hi - 1]
        col = self._search(start + u * (stop - start)) - base
        return np.clip(col, lo, hi - 1)

    def _search(self, target: np.ndarray) -> np.ndarray:
        """``searchsorted(flat, target, side="right")``, cache-friendly for big tables.

        A search in the small coarse index, then a branch-free binary search inside one
        stride of the flat array.
        """
        flat = self.flat
        pos = np.maximum(np.searchsorted(self.coarse, target, side="right") - 1, 0) * _STRIDE
        step = _STRIDE // 2
        while step:
            probe = np.minimum(pos + step, len(flat) - 1)
            pos = np.where(flat[probe] <= target, probe, pos)
            step //= 2
        return pos + (flat[pos] <= target)


def categorical_rows(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One category per row of ``probs`` (rows sum to 1), using uniforms ``u``."""
    cdf = np.cumsum(probs, axis=1)
    below = cdf < (u * cdf[:, -1])[:, None]
    return np.minimum(below.sum(axis=1), probs.shape[1] - 1)
