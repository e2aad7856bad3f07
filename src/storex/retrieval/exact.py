"""Exact top-K by chunked matrix products: every item scored, seen items and disallowed
items masked, the best ``k`` kept per user."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor


def exact_top_k(
    user_vectors: Tensor,
    item_vectors: Tensor,
    k: int,
    *,
    exclude: sp.csr_matrix | None = None,
    allowed: Tensor | None = None,
    chunk_rows: int = 4096,
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
        Users scored per matrix product (bounds memory at ``chunk_rows * I`` floats).

    Rows with fewer than ``k`` admissible items are padded with index -1 and score -inf.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    num_users, num_items = user_vectors.shape[0], item_vectors.shape[0]
    k_eff = min(k, num_items)
    items_t = item_vectors.float().T.contiguous()
    out_items = torch.full((num_users, k), -1, dtype=torch.long)
    out_scores = torch.full((num_users, k), -torch.inf)
    for start in range(0, num_users, chunk_rows):
        stop = min(start + chunk_rows, num_users)
        scores = user_vectors[start:stop].float() @ items_t
        if allowed is not None:
            scores[:, ~allowed] = -torch.inf
        if exclude is not None:
            rows = exclude[start:stop].tocoo()
            scores[
                torch.from_numpy(rows.row.astype(np.int64)),
                torch.from_numpy(rows.col.astype(np.int64)),
            ] = -torch.inf
        top_scores, top_items = torch.topk(scores, k_eff, dim=1)
        top_items[torch.isneginf(top_scores)] = -1
        out_items[start:stop, :k_eff] = top_items
        out_scores[start:stop, :k_eff] = top_scores
    return out_items, out_scores
