"""Exact top-K by chunked matrix products: every item scored, seen items and disallowed
items masked, the best ``k`` kept per user.

Selecting the best ``k`` of a whole score row costs about as much as computing the row, so
rows are cut into blocks: the ``k`` blocks with the highest maxima hold the row's top ``k``
(any other item is beaten by those ``k`` maxima), and only they are searched. That keeps
batch scoring close to the speed of the matrix product itself.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

DEFAULT_MEMORY_MB = 256.0
MAX_CHUNK_ROWS = 1024  # beyond it the product gains nothing and memory keeps growing
MIN_BLOCK, MAX_BLOCK = 64, 1024


def exact_top_k(
    user_vectors: Tensor,
    item_vectors: Tensor,
    k: int,
    *,
    exclude: sp.csr_matrix | None = None,
    allowed: Tensor | None = None,
    chunk_rows: int | None = None,
    memory_mb: float = DEFAULT_MEMORY_MB,
) -> tuple[Tensor, Tensor]:
    """Top-``k`` item indices and scores per row of ``user_vectors``, best first.

    Parameters
    ----------
    user_vectors, item_vectors
        ``(B, d)`` and ``(I, d)``; a score is their dot product.
    exclude
        ``(B, I)`` matrix, row-aligned with ``user_vectors``, whose non-zeros are never
        returned (items already seen).
    allowed
        Boolean mask ``(I,)`` of items the answer may hold; all when None.
    chunk_rows
        Users scored per matrix product; by default as many as ``memory_mb`` of scores hold.

    Rows with fewer than ``k`` admissible items are padded with index -1 and score -inf.
    Equal scores go to the lower item index, as in the service's answers.
    """
    _check_k(k)
    columns = None if allowed is None else torch.nonzero(allowed).flatten()
    items = item_vectors.float() if columns is None else item_vectors.float()[columns]
    selector = BlockTopK(items.shape[0], k)
    items_t = selector.padded(items).T.contiguous()
    rows = chunk_rows or selector.chunk_rows(memory_mb)
    position = None if columns is None else _positions(columns, item_vectors.shape[0])
    num_users = user_vectors.shape[0]
    out_items = torch.full((num_users, k), -1, dtype=torch.long)
    out_scores = torch.full((num_users, k), -torch.inf)
    buffer = torch.empty(min(rows, max(num_users, 1)), items_t.shape[1])
    for start in range(0, num_users, rows):
        stop = min(start + rows, num_users)
        scores = torch.mm(user_vectors[start:stop].float(), items_t, out=buffer[: stop - start])
        if exclude is not None:
            mask_excluded(scores, exclude[start:stop], position)
        top_items, top_scores = selector.select(scores)
        if columns is not None:
            top_items = torch.where(top_items >= 0, columns[top_items.clamp(min=0)], -1)
        out_items[start:stop], out_scores[start:stop] = top_items, top_scores
    return out_items, out_scores


def top_k_rows(scores: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top-``k`` columns and values of each row of ``scores`` (``-inf``: inadmissible),
    padded and ordered as :func:`exact_top_k`; ``scores`` may be overwritten."""
    _check_k(k)
    selector = BlockTopK(scores.shape[1], k)
    if selector.width != scores.shape[1]:
        scores = selector.padded(scores.T).T
    return selector.select(scores.contiguous())


class BlockTopK:
    """Top-``k`` selection over score rows of ``num_items`` columns, by blocks."""

    def __init__(self, num_items: int, k: int) -> None:
        self.num_items, self.k = num_items, k
        block = 2 ** round(math.log2(max(num_items / (32 * k), 1)))
        self.block = min(max(block, MIN_BLOCK), MAX_BLOCK)
        self.blocks = max(math.ceil(num_items / self.block), 1)
        self.width = self.blocks * self.block

    def padded(self, vectors: Tensor) -> Tensor:
        """``vectors`` (one row per item) with zero rows up to a whole number of blocks."""
        if vectors.shape[0] == self.width:
            return vectors
        out = vectors.new_zeros((self.width, vectors.shape[1]))
        out[: vectors.shape[0]] = vectors
        return out

    def chunk_rows(self, memory_mb: float) -> int:
        """Rows whose scores fit in ``memory_mb``."""
        return int(min(max(memory_mb * 2**20 // (4 * self.width), 1), MAX_CHUNK_ROWS))

    def select(self, scores: Tensor) -> tuple[Tensor, Tensor]:
        """Best ``k`` of each row of the ``(B, width)`` scores, padded columns ignored."""
        rows = scores.shape[0]
        scores[:, self.num_items :] = -torch.inf
        k_eff = min(self.k, self.num_items)
        out_items = torch.full((rows, self.k), -1, dtype=torch.long)
        out_scores = torch.full((rows, self.k), -torch.inf)
        if k_eff == 0:
            return out_items, out_scores
        if self.blocks <= k_eff:
            top_scores, top_items = torch.topk(scores, k_eff, dim=1)
            kth = top_scores[:, -1:]
            tied = (scores >= kth).sum(dim=1) > k_eff
        else:
            by_block = scores.view(rows, self.blocks, self.block)
            maxima = by_block.amax(dim=2)
            best_blocks = torch.topk(maxima, k_eff, dim=1).indices
            flat = (best_blocks + torch.arange(rows)[:, None] * self.blocks).flatten()
            gathered = scores.view(-1, self.block).index_select(0, flat).view(rows, -1)
            top_scores, found = torch.topk(gathered, k_eff, dim=1)
            top_items = best_blocks.gather(1, found // self.block) * self.block
            top_items += found % self.block
            kth = top_scores[:, -1:]
            tied = ((maxima >= kth).sum(dim=1) > k_eff) | ((gathered >= kth).sum(dim=1) > k_eff)
        tied &= torch.isfinite(kth[:, 0])
        for row in torch.nonzero(tied).flatten().tolist():  # rare: equal scores at the cut
            exact = torch.from_numpy(best_first(scores[row].numpy(), k_eff))
            top_items[row], top_scores[row] = exact, scores[row, exact]
        top_items, top_scores = _ties_by_index(top_items, top_scores)
        top_items[torch.isneginf(top_scores)] = -1
        out_items[:, :k_eff], out_scores[:, :k_eff] = top_items, top_scores
        return out_items, out_scores


def best_first(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` highest finite scores, best first; ties go to the lower index.

    Excluded items carry ``-inf`` and are never returned (nor NaN scores).

    NumPy rather than torch: on one row of a few thousand scores the work is tiny and
    torch's per-call overhead would be most of it.
    """
    candidates = np.flatnonzero(np.isfinite(scores))
    values = scores[candidates]
    k = min(n, candidates.size)
    if k < 1:
        return candidates[:0]
    if k < candidates.size:
        kth = values[np.argpartition(-values, k - 1)[k - 1]]
        above = candidates[values > kth]
        candidates = np.concatenate([above, candidates[values == kth][: k - above.size]])
    return candidates[np.lexsort((candidates, -scores[candidates]))]


def _ties_by_index(items: Tensor, scores: Tensor) -> tuple[Tensor, Tensor]:
    """Reorder each row best first, equal scores by lower item index (as the service)."""
    by_item = torch.argsort(items, dim=1)
    items, scores = items.gather(1, by_item), scores.gather(1, by_item)
    by_score = torch.argsort(-scores, dim=1, stable=True)
    return items.gather(1, by_score), scores.gather(1, by_score)


def mask_excluded(scores: Tensor, excluded: sp.csr_matrix, position: Tensor | None = None) -> None:
    """Set the excluded (row, item) scores to -inf; ``position`` maps items to columns."""
    coo = excluded.tocoo()
    rows = torch.from_numpy(coo.row.astype(np.int64))
    cols = torch.from_numpy(coo.col.astype(np.int64))
    if position is not None:
        cols = position[cols]
        rows, cols = rows[cols >= 0], cols[cols >= 0]
    scores[rows, cols] = -torch.inf


def _positions(columns: Tensor, num_items: int) -> Tensor:
    position = torch.full((num_items,), -1, dtype=torch.long)
    position[columns] = torch.arange(columns.numel())
    return position


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
