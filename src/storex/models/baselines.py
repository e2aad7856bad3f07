"""Non-neural baselines behind the :class:`~storex.models.base.Recommender` contract.

Every graph model must beat these to earn its training time: :class:`RandomRecommender` (the
floor), :class:`MostPopular` (what a shop shows without personalisation), :class:`EASE`
(Steck 2019, a closed-form linear item-item model that is hard to beat on dense data) and
:class:`ItemKNN` (sparse cosine neighbours, cheap for large catalogues). The item-item models
keep the training history, so a user's score row is ``X[user] @ B``; users unseen in training
are scored by folding in their history the same way.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from storex.errors import ConfigError, DataError, ModelError
from storex.models.base import Recommender, top_other_items
from storex.models.data import InteractionData
from storex.models.registry import register

_GIB = 1024**3


@register
class RandomRecommender(Recommender):
    """Uniform random scores in ``[0, 1)``, a pure function of ``(seed, user, item)``.

    Hashing instead of drawing from a generator makes a user's row the same whatever batch it
    is scored in, so recommendations are reproducible and batch-invariant.
    """

    name: ClassVar[str] = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    def get_params(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def fit(self, data: InteractionData) -> Self:
        self.spec_ = data.spec
        return self

    def score(self, users: Tensor) -> Tensor:
        self.check_fitted()
        users = users.long()
        if users.numel() and (users.min() < 0 or users.max() >= self.num_users_):
            raise IndexError(f"user indices must lie in [0, {self.num_users_})")
        return self._uniform(users.numpy())

    def score_new_users(self, user_x: Tensor, histories: Sequence[Tensor]) -> Tensor:
        """Random rows for new users, keyed by their position in the batch (after the
        training users), so a call is reproducible for a seed."""
        self.check_fitted()
        _check_batch(user_x, histories)
        return self._uniform(self.num_users_ + np.arange(len(histories), dtype=np.int64))

    def state(self) -> dict[str, Tensor]:
        self.check_fitted()
        return {}

    def set_state(self, state: dict[str, Tensor]) -> None:
        """Nothing is learned: the seed and the sizes define every score."""

    def _uniform(self, keys: np.ndarray) -> Tensor:
        with np.errstate(over="ignore"):
            seed_key = _mix(np.array([self.seed], dtype=np.uint64))
            user_key = _mix(keys.astype(np.uint64) ^ seed_key)
            items = np.arange(self.num_items_, dtype=np.uint64)
            bits = _mix(user_key[:, None] + items[None, :])
        return torch.from_numpy((bits >> np.uint64(40)).astype(np.float32) * np.float32(2**-24))


@register
class MostPopular(Recommender):
    """Items ranked by training degree, the same list for everyone (new users included)."""

    name: ClassVar[str] = "most_popular"

    def get_params(self) -> dict[str, Any]:
        return {}

    def fit(self, data: InteractionData) -> Self:
        self.spec_ = data.spec
        self.popularity_ = data.item_popularity()
        return self

    def score(self, users: Tensor) -> Tensor:
        self.check_fitted()
        return self.popularity_.expand(len(users), -1).clone()

    def score_new_users(self, user_x: Tensor, histories: Sequence[Tensor]) -> Tensor:
        self.check_fitted()
        _check_batch(user_x, histories)
        return self.popularity_.expand(len(histories), -1).clone()

    def state(self) -> dict[str, Tensor]:
        self.check_fitted()
        return {"popularity": self.popularity_}

    def set_state(self, state: dict[str, Tensor]) -> None:
        self.popularity_ = _checked(state, "popularity", (self.num_items_,)).float()


class _ItemItemRecommender(Recommender):
    """Shared machinery of models scoring ``history @ W`` with an items x items ``W``.

    Subclasses learn ``W`` in :meth:`_fit_weights` and expose it through :meth:`_apply`.
    The training history (CSR) and item popularity are kept: the first gives training users
    their rows, the second scores new users with an empty history (nothing to fold in).
    """

    def fit(self, data: InteractionData) -> Self:
        history = data.matrix("train")
        self._fit_weights(history)
        self.spec_ = data.spec
        self.seen_ = history
        self.popularity_ = data.item_popularity()
        return self

    def score(self, users: Tensor) -> Tensor:
        self.check_fitted()
        return self._apply(self.seen_[users.long().numpy()])

    def score_new_users(self, user_x: Tensor, histories: Sequence[Tensor]) -> Tensor:
        """Fold each history in exactly as for a training user; users with an empty
        history get the popularity row instead (their folded-in row would be all zeros)."""
        self.check_fitted()
        _check_batch(user_x, histories)
        rows = _history_matrix(histories, self.num_items_)
        scores = self._apply(rows)
        empty = torch.from_numpy(np.diff(rows.indptr) == 0)
        scores[empty] = self.popularity_
        return scores

    @abstractmethod
    def _fit_weights(self, history: sp.csr_matrix) -> None:
        """Learn the items x items weights from the binary training matrix."""

    @abstractmethod
    def _apply(self, rows: sp.csr_matrix) -> Tensor:
        """Dense scores ``rows @ W`` for a users x items history matrix."""

    def _history_state(self) -> dict[str, Tensor]:
        return {
            "history_indptr": torch.from_numpy(self.seen_.indptr.astype(np.int64)),
            "history_indices": torch.from_numpy(self.seen_.indices.astype(np.int64)),
            "popularity": self.popularity_,
        }

    def _set_history_state(self, state: dict[str, Tensor]) -> None:
        indptr = _checked(state, "history_indptr", (self.num_users_ + 1,)).numpy()
        indices = _checked(state, "history_indices", None).numpy()
        values = np.ones(len(indices), dtype=np.float32)
        shape = (self.num_users_, self.num_items_)
        try:
            self.seen_ = sp.csr_matrix((values, indices, indptr), shape=shape)
        except ValueError as exc:
            raise ModelError(f"model state holds an inconsistent training history: {exc}") from exc
        self.popularity_ = _checked(state, "popularity", (self.num_items_,)).float()


@register
class EASE(_ItemItemRecommender):
    """Embarrassingly Shallow Autoencoder (Steck, 2019): ``B = I - P diag(1 / diag(P))``
    with ``P = (X^T X + l2 I)^-1`` and ``diag(B) = 0``.

    ``B`` is a dense items x items float32 matrix, so ``max_items`` refuses catalogues whose
    matrices would not fit in memory. With fewer users than items ``P`` comes from the
    Woodbury identity (a users x users inverse), which is much cheaper than the items x items
    Cholesky inverse used otherwise.
    """

    name: ClassVar[str] = "ease"

    def __init__(self, l2: float = 500.0, max_items: int = 20_000) -> None:
        if not l2 > 0:
            raise ConfigError(f"EASE l2 must be > 0, got {l2}")
        if max_items < 1:
            raise ConfigError(f"EASE max_items must be >= 1, got {max_items}")
        self.l2 = float(l2)
        self.max_items = int(max_items)

    def get_params(self) -> dict[str, Any]:
        return {"l2": self.l2, "max_items": self.max_items}

    def _fit_weights(self, history: sp.csr_matrix) -> None:
        num_users, num_items = history.shape
        if num_items > self.max_items:
            peak = 3 * 4 * num_items**2 / _GIB
            raise ConfigError(
                f"EASE needs dense {num_items} x {num_items} item matrices (about {peak:.1f} GB "
                f"while fitting) but max_items={self.max_items}; raise max_items if the memory "
                "is there, or use item_knn"
            )
        if num_users < num_items:
            precision = _ease_inverse_woodbury(history, self.l2)
        else:
            precision = _ease_inverse_cholesky(history, self.l2)
        precision.div_(-torch.diagonal(precision).clone())
        self.weights_ = precision.fill_diagonal_(0.0)

    def _apply(self, rows: sp.csr_matrix) -> Tensor:
        return torch.from_numpy(np.asarray(rows @ self.weights_.numpy(), dtype=np.float32))

    def item_weights(self, sources: Tensor, targets: Tensor | None = None) -> Tensor:
        """Rows of ``B``: what an interaction with a source item adds to each target's score."""
        self.check_fitted()
        rows = self.weights_[sources.long()]
        return rows if targets is None else rows[:, targets.long()]

    def state(self) -> dict[str, Tensor]:
        self.check_fitted()
        return {"weights": self.weights_, **self._history_state()}

    def set_state(self, state: dict[str, Tensor]) -> None:
        self._set_history_state(state)
        shape = (self.num_items_, self.num_items_)
        self.weights_ = _checked(state, "weights", shape).float().contiguous()


def _ease_inverse_cholesky(history: sp.csr_matrix, l2: float) -> Tensor:
    """``(X^T X + l2 I)^-1`` through a Cholesky factor of the items x items Gram matrix."""
    gram = torch.from_numpy((history.T @ history).toarray().astype(np.float32))
    gram.diagonal().add_(l2)
    factor = torch.linalg.cholesky(gram)
    del gram
    return torch.cholesky_inverse(factor)


def _ease_inverse_woodbury(history: sp.csr_matrix, l2: float) -> Tensor:
    """``(X^T X + l2 I)^-1 = (I - X^T (X X^T + l2 I)^-1 X) / l2``: only a users x users
    matrix is inverted (in float64, it is small); the items x items product is sparse x dense."""
    users_gram = torch.from_numpy((history @ history.T).toarray().astype(np.float64))
    users_gram.diagonal().add_(l2)
    inner = torch.cholesky_inverse(torch.linalg.cholesky(users_gram)).numpy().astype(np.float32)
    projected = np.ascontiguousarray(np.asarray(history.T @ inner).T)  # K X, K symmetric
    precision = torch.from_numpy(np.asarray(history.T @ projected, dtype=np.float32))
    precision.mul_(-1.0 / l2)
    precision.diagonal().add_(1.0 / l2)
    return precision


ITEM_KNN_BLOCK_ENTRIES = 50_000_000
"""Item-kNN computes co-occurrences for at most this many (target, item) cells at a time."""


@register
class ItemKNN(_ItemItemRecommender):
    """Item-based nearest neighbours: cosine similarity ``|U_i & U_j| / (sqrt(d_i d_j) +
    shrink)`` on the training matrix, keeping the ``k`` most similar items of each item.

    The shrinkage term damps similarities resting on few co-occurrences; the similarity
    matrix stays sparse (at most ``k`` entries per item), so this scales to catalogues EASE
    cannot hold.
    """

    name: ClassVar[str] = "item_knn"

    def __init__(self, k: int = 100, shrink: float = 10.0) -> None:
        if k < 1:
            raise ConfigError(f"ItemKNN k must be >= 1, got {k}")
        if shrink < 0:
            raise ConfigError(f"ItemKNN shrink must be >= 0, got {shrink}")
        self.k = int(k)
        self.shrink = float(shrink)

    def get_params(self) -> dict[str, Any]:
        return {"k": self.k, "shrink": self.shrink}

    def _fit_weights(self, history: sp.csr_matrix) -> None:
        """Co-occurrences a block of target items at a time, each block cut to its top ``k``
        before the next: the full item x item product of a big catalogue (33K items: up to 1G
        entries) never exists at once. Row ``t`` of the product depends on target ``t`` alone,
        so the blocks give exactly the unblocked result."""
        num_items = history.shape[1]
        norms = np.sqrt(np.asarray(history.sum(axis=0), dtype=np.float64).ravel())
        by_item = history.T.tocsr()
        block = max(1, ITEM_KNN_BLOCK_ENTRIES // max(num_items, 1))
        parts = []
        for start in range(0, num_items, block):
            cooc = (by_item[start : start + block] @ history).tocoo()
            target = cooc.row.astype(np.int64) + start
            off_diagonal = target != cooc.col
            target, neighbour = target[off_diagonal], cooc.col[off_diagonal]
            values = cooc.data[off_diagonal] / (norms[target] * norms[neighbour] + self.shrink)
            keep = _top_k_per_group(target, values, self.k)
            parts.append((values[keep].astype(np.float32), neighbour[keep], target[keep]))
        values, neighbour, target = (np.concatenate([p[i] for p in parts]) for i in range(3))
        self.similarity_ = sp.csr_matrix(
            (values, (neighbour, target)), shape=(num_items, num_items)
        )

    def _apply(self, rows: sp.csr_matrix) -> Tensor:
        return torch.from_numpy((rows @ self.similarity_).toarray().astype(np.float32))

    def item_weights(self, sources: Tensor, targets: Tensor | None = None) -> Tensor:
        """Rows of the kept similarities: what a source item adds to each target's score."""
        self.check_fitted()
        rows = self.similarity_[sources.long().numpy()]
        if targets is not None:
            rows = rows[:, targets.long().numpy()]
        return torch.from_numpy(rows.toarray().astype(np.float32))

    def similar_items(self, items: Tensor, k: int = 10) -> tuple[Tensor, Tensor]:
        """An item's kept neighbours are its column of the similarities (the rows used by
        :meth:`item_weights` hold what it adds to others, fewer than ``k`` at times)."""
        self.check_fitted()
        columns = self.similarity_[:, items.long().numpy()].T.toarray().astype(np.float32)
        return top_other_items(torch.from_numpy(columns), items, k)

    def state(self) -> dict[str, Tensor]:
        self.check_fitted()
        coo = self.similarity_.tocoo()
        indices = np.vstack([coo.row, coo.col]).astype(np.int64)
        return {
            "similarity_indices": torch.from_numpy(indices),
            "similarity_values": torch.from_numpy(coo.data.astype(np.float32)),
            **self._history_state(),
        }

    def set_state(self, state: dict[str, Tensor]) -> None:
        self._set_history_state(state)
        indices = _checked(state, "similarity_indices", None).numpy()
        values = _checked(state, "similarity_values", (indices.shape[1],)).numpy()
        shape = (self.num_items_, self.num_items_)
        self.similarity_ = sp.csr_matrix((values, (indices[0], indices[1])), shape=shape)


def _top_k_per_group(groups: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest values within each group (ties: lower position)."""
    order = np.lexsort((-values, groups))
    sorted_groups = groups[order]
    starts = np.searchsorted(sorted_groups, sorted_groups, side="left")
    rank = np.arange(len(order)) - starts
    return np.sort(order[rank < k])


def _history_matrix(histories: Sequence[Tensor], num_items: int) -> sp.csr_matrix:
    """Binary new-users x items CSR matrix of item-index histories (duplicates count once)."""
    lengths = [int(h.numel()) for h in histories]
    items = (
        torch.cat([h.reshape(-1).long() for h in histories]).numpy()
        if histories
        else np.empty(0, dtype=np.int64)
    )
    bad = (items < 0) | (items >= num_items)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        user = int(np.searchsorted(np.cumsum(lengths), position, side="right"))
        raise DataError(
            f"history of new user {user} holds item index {int(items[position])}; "
            f"expected indices in [0, {num_items})"
        )
    rows = np.repeat(np.arange(len(lengths)), lengths)
    values = np.ones(len(items), dtype=np.float32)
    matrix = sp.csr_matrix((values, (rows, items)), shape=(len(lengths), num_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _check_batch(user_x: Tensor, histories: Sequence[Tensor]) -> None:
    if user_x.shape[0] != len(histories):
        raise DataError(
            f"new users: {user_x.shape[0]} feature rows but {len(histories)} histories; "
            "expected one history per feature row"
        )


def _checked(state: dict[str, Tensor], key: str, shape: tuple[int, ...] | None) -> Tensor:
    """``state[key]``, with a clear error when it is missing or has the wrong shape."""
    if key not in state:
        raise ModelError(f"model state lacks {key!r}; found {sorted(state)}")
    tensor = state[key]
    if shape is not None and tuple(tensor.shape) != shape:
        raise ModelError(f"model state {key!r} has shape {tuple(tensor.shape)}, expected {shape}")
    return tensor


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijective uint64 hash with good avalanche (wraps on purpose)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))
