"""Top-K for one partition of users: what runs in this process or on a Dask worker.

The item side (item factors or the model, the filter mask, item ids) is the same for every
partition, so it travels once (scattered to each worker); a partition carries only its own
users: their ids, their factors and their seen items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import Tensor

from storex.models.base import Recommender
from storex.retrieval.exact import exact_top_k

COLUMNS = ("user_id", "rank", "item_id", "score")
"""The answer table's columns, one row per (user, rank)."""


@dataclass
class ItemSide:
    """Everything a partition is scored against.

    ``item_vectors`` is set for models that score by a dot product (the fast GEMM path);
    otherwise ``model`` scores users directly and ``seen`` holds what to exclude.
    """

    item_ids: np.ndarray
    k: int
    allowed: Tensor | None
    memory_mb: float
    item_vectors: Tensor | None = None
    model: Recommender | None = None
    seen: sp.csr_matrix | None = None
    """Every user's seen items, for the ``model`` path (partitions carry their own rows on
    the dot-product path)."""

    @property
    def num_items(self) -> int:
        """Items each user is scored against (after the filters)."""
        return len(self.item_ids) if self.allowed is None else int(self.allowed.sum())


@dataclass
class Partition:
    """A slice of the users to score: their external ids, indices, factors and seen items."""

    number: int
    user_ids: np.ndarray
    users: np.ndarray
    user_vectors: Tensor | None
    seen: sp.csr_matrix | None


def top_k(side: ItemSide, part: Partition) -> tuple[Tensor, Tensor]:
    """``(users, k)`` item indices and scores, padded with -1 / -inf."""
    if side.item_vectors is not None and part.user_vectors is not None:
        return exact_top_k(
            part.user_vectors,
            side.item_vectors,
            side.k,
            exclude=part.seen,
            allowed=side.allowed,
            memory_mb=side.memory_mb,
        )
    if side.model is None:
        raise ValueError("an item side needs item vectors or a model")
    return side.model.recommend(
        torch.from_numpy(part.users),
        side.k,
        exclude=side.seen,
        candidates=None if side.allowed is None else torch.nonzero(side.allowed).flatten(),
        memory_mb=side.memory_mb,
    )


def answers_frame(side: ItemSide, part: Partition, items: Tensor, scores: Tensor) -> pd.DataFrame:
    """One row per (user, rank): ``user_id``, ``rank`` (1 = best), ``item_id``, ``score``."""
    found = items.numpy()
    kept = found >= 0
    per_user = kept.sum(axis=1)
    ranks = np.broadcast_to(np.arange(1, side.k + 1, dtype=np.int16), found.shape)
    return pd.DataFrame(
        {
            "user_id": np.repeat(part.user_ids, per_user),
            "rank": ranks[kept],
            "item_id": side.item_ids[found[kept]],
            "score": scores.numpy()[kept].astype(np.float32),
        }
    )


def score_partition(side: ItemSide, part: Partition) -> pd.DataFrame:
    """The partition's answers; torch uses the threads the process was given."""
    with torch.no_grad():
        items, scores = top_k(side, part)
    return answers_frame(side, part, items, scores)
