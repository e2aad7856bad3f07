"""Negative sampling for implicit feedback: items a user has *not* shown interest in.

A negative is never one of the user's known positives. Draws are vectorised rejection sampling:
draw for everyone, look every (user, item) up among the sorted keys ``user * num_items + item``
of the known positives with :func:`numpy.searchsorted`, and redraw only the collisions. Users
who still collide after a number of rounds (they like almost every item) get an exact draw from
the items they have not touched; users with no such item at all raise
:class:`~storex.errors.EmptyDataError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from storex.errors import ConfigError, DataError, EmptyDataError

Strategy = Literal["uniform", "popularity"]
STRATEGIES: Final = ("uniform", "popularity")
_MAX_ROUNDS: Final = 50
_NO_MASS: Final = 1e-12
_LOOKUP_CHUNK: Final = 2_000_000


class KnownPositives:
    """Every known positive (user, item) pair as sorted int64 keys ``user * num_items + item``."""

    def __init__(self, users: object, items: object, num_items: int) -> None:
        users_a, items_a = _as_index(users), _as_index(items)
        if users_a.shape != items_a.shape:
            raise DataError(f"{users_a.size} users but {items_a.size} items in positive pairs")
        _check_range(items_a, num_items, "item")
        if users_a.size and users_a.min() < 0:
            raise DataError("negative user index in positive pairs", column="user")
        self.num_items = int(num_items)
        self.keys = np.unique(users_a * self.num_items + items_a)

    @classmethod
    def from_sparse(cls, matrix: sp.spmatrix | sp.sparray) -> KnownPositives:
        """From a users x items matrix whose non-zero entries are the positives."""
        coo = sp.coo_matrix(matrix)
        nonzero = coo.data != 0
        return cls(coo.row[nonzero], coo.col[nonzero], coo.shape[1])

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int]], num_items: int) -> KnownPositives:
        """From any iterable (e.g. a set) of ``(user, item)`` tuples."""
        array = np.asarray(list(pairs), dtype=np.int64).reshape(-1, 2)
        return cls(array[:, 0], array[:, 1], num_items)

    def __len__(self) -> int:
        return int(self.keys.size)

    def contains(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Bool mask: is ``(users[k], items[k])`` a known positive?

        Looked up in chunks, so the temporary keys stay small for tens of millions of pairs.
        """
        found = np.zeros(np.shape(users), dtype=bool)
        if self.keys.size == 0:
            return found
        for start in range(0, found.size, _LOOKUP_CHUNK):
            stop = start + _LOOKUP_CHUNK
            query = users[start:stop].astype(np.int64) * self.num_items + items[start:stop]
            where = np.minimum(np.searchsorted(self.keys, query), self.keys.size - 1)
            found[start:stop] = self.keys[where] == query
        return found

    def items_of(self, user: int) -> np.ndarray:
        """Known positive items of one user, sorted."""
        lo, hi = np.searchsorted(self.keys, [user * self.num_items, (user + 1) * self.num_items])
        return self.keys[lo:hi] - user * self.num_items

    def mass_per_user(self, num_users: int, item_prob: np.ndarray | None) -> np.ndarray:
        """Per user: how many positives (uniform) or how much item probability they cover."""
        users = self.keys // self.num_items
        inside = users < num_users
        weights = None if item_prob is None else item_prob[self.keys[inside] % self.num_items]
        return np.bincount(users[inside], weights=weights, minlength=num_users)


def sample_negatives(
    pos_user: object,
    pos_item: object,
    num_items: int,
    *,
    ratio: int = 4,
    strategy: Strategy = "uniform",
    known_positive: KnownPositives | sp.spmatrix | sp.sparray | set | None = None,
    alpha: float = 0.75,
    item_weight: object | None = None,
    seed: int | np.random.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Positives followed by exactly ``ratio`` negatives per positive, with labels 1 and 0.

    Parameters
    ----------
    pos_user, pos_item
        The positive pairs (index arrays or tensors).
    num_items
        Size of the item catalog; negatives are drawn from ``0..num_items-1``.
    ratio
        Negatives per positive; negative ``j`` of positive ``k`` sits at ``P + k * ratio + j``.
    strategy
        ``"uniform"`` over items, or ``"popularity"``: proportional to ``item_weight ** alpha``
        (``item_weight`` defaults to each item's degree among the given positives, so items no
        positive touches are never drawn).
    known_positive
        Pairs that must never be returned as negatives (pass train+valid+test positives to rule
        out held-out items too). Defaults to the given positives.
    seed
        An int or a :class:`numpy.random.Generator` for reproducible draws.

    Returns
    -------
    users, items : int64 tensors of length ``P * (1 + ratio)``
    labels : float32 tensor, 1 for the ``P`` positives, 0 for the negatives.
    """
    pairs, labels = sample_negative_pairs(
        pos_user,
        pos_item,
        num_items,
        ratio=ratio,
        strategy=strategy,
        known_positive=known_positive,
        alpha=alpha,
        item_weight=item_weight,
        seed=seed,
    )
    return pairs[0].clone(), pairs[1].clone(), labels  # own storage each, as before


def sample_negative_pairs(
    pos_user: object,
    pos_item: object,
    num_items: int,
    *,
    ratio: int = 4,
    strategy: Strategy = "uniform",
    known_positive: KnownPositives | sp.spmatrix | sp.sparray | set | None = None,
    alpha: float = 0.75,
    item_weight: object | None = None,
    seed: int | np.random.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """:func:`sample_negatives` as one ``[2, P * (1 + ratio)]`` tensor ``[users; items]``.

    Filled in place, so tens of millions of examples take one buffer rather than three.
    """
    if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1:
        raise ConfigError(f"ratio must be a whole number >= 1, got {ratio!r}")
    users, items = _as_index(pos_user), _as_index(pos_item)
    known = _known(known_positive, users, items, num_items)
    prob = _item_prob(strategy, items, num_items, alpha, item_weight)
    rng = np.random.default_rng(seed)
    positives = users.size
    pairs = np.empty((2, positives * (1 + ratio)), dtype=np.int64)
    pairs[0, :positives], pairs[1, :positives] = users, items
    neg_users = pairs[0, positives:]
    neg_users.reshape(positives, ratio)[:] = users[:, None]  # np.repeat(users, ratio)
    pairs[1, positives:] = _draw_negatives(neg_users, num_items, known, prob, rng)
    labels = np.zeros(pairs.shape[1], dtype=np.float32)
    labels[:positives] = 1.0
    return torch.from_numpy(pairs), torch.from_numpy(labels)


def sample_bpr_triplets(
    pos_user: object,
    pos_item: object,
    num_items: int,
    *,
    num_samples: int | None = None,
    strategy: Strategy = "uniform",
    known_positive: KnownPositives | sp.spmatrix | sp.sparray | set | None = None,
    alpha: float = 0.75,
    item_weight: object | None = None,
    seed: int | np.random.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(user, positive item, negative item)`` triplets for pairwise (BPR) losses.

    With ``num_samples=None`` every positive appears once in random order (one epoch); otherwise
    ``num_samples`` positives are drawn with replacement. Negatives follow the rules of
    :func:`sample_negatives`.
    """
    users, items = _as_index(pos_user), _as_index(pos_item)
    known = _known(known_positive, users, items, num_items)
    prob = _item_prob(strategy, items, num_items, alpha, item_weight)
    rng = np.random.default_rng(seed)
    if num_samples is None:
        pick = rng.permutation(users.size)
    else:
        if num_samples < 0:
            raise ConfigError(f"num_samples must be >= 0, got {num_samples}")
        if users.size == 0 and num_samples > 0:
            raise EmptyDataError("no positive pairs to draw triplets from")
        pick = rng.integers(0, users.size, num_samples)
    u, i_pos = users[pick], items[pick]
    i_neg = _draw_negatives(u, num_items, known, prob, rng)
    return torch.from_numpy(u), torch.from_numpy(i_pos), torch.from_numpy(i_neg)


def _draw_negatives(
    users: np.ndarray,
    num_items: int,
    known: KnownPositives,
    prob: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """One negative item per entry of ``users``."""
    if users.size == 0:
        return np.empty(0, dtype=np.int64)
    _check_feasible(users, num_items, known, prob)
    items = _draw(users.size, num_items, prob, rng)
    for _ in range(_MAX_ROUNDS):
        clash = known.contains(users, items)
        if not clash.any():
            return items
        items[clash] = _draw(int(clash.sum()), num_items, prob, rng)
    clash = known.contains(users, items)
    for user in np.unique(users[clash]):
        rows = np.flatnonzero(clash & (users == user))
        allowed = np.setdiff1d(np.arange(num_items), known.items_of(int(user)))
        weights = None if prob is None else prob[allowed] / prob[allowed].sum()
        items[rows] = rng.choice(allowed, size=rows.size, p=weights)
    return items


def _check_feasible(
    users: np.ndarray, num_items: int, known: KnownPositives, prob: np.ndarray | None
) -> None:
    n_users = int(users.max()) + 1
    covered = known.mass_per_user(n_users, prob)
    total = float(num_items) if prob is None else 1.0
    present = np.zeros(n_users, dtype=bool)
    present[users] = True  # per user, not per draw: no temporary as long as the draws
    stuck = np.flatnonzero(present & (covered >= total - _NO_MASS))
    if stuck.size:
        what = "every item" if prob is None else "every item with non-zero sampling weight"
        raise EmptyDataError(
            f"{stuck.size} user(s) have positives for {what}, so no negative exists "
            f"(first: user index {int(stuck[0])}, {num_items} items)"
        )


def _draw(n: int, num_items: int, prob: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    if prob is None:
        return rng.integers(0, num_items, n, dtype=np.int64)
    return rng.choice(num_items, size=n, p=prob).astype(np.int64)


def _item_prob(
    strategy: str, items: np.ndarray, num_items: int, alpha: float, item_weight: object | None
) -> np.ndarray | None:
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
    if num_items < 1:
        raise EmptyDataError("the catalog has no items to draw negatives from")
    if strategy == "uniform":
        return None
    if alpha < 0:
        raise ConfigError(f"alpha must be >= 0, got {alpha}")
    if item_weight is None:
        weight = np.bincount(items, minlength=num_items).astype(np.float64)
    else:
        weight = np.asarray(item_weight, dtype=np.float64).reshape(-1)
        if weight.size != num_items or (weight < 0).any() or not np.isfinite(weight).all():
            raise DataError(
                f"item_weight must hold {num_items} finite values >= 0 (got {weight.size})"
            )
    weight = np.where(weight > 0, weight**alpha, 0.0)
    if weight.sum() <= 0:
        raise EmptyDataError("every item has zero popularity weight; nothing to draw from")
    return weight / weight.sum()


def _known(
    known_positive: KnownPositives | sp.spmatrix | sp.sparray | set | None,
    users: np.ndarray,
    items: np.ndarray,
    num_items: int,
) -> KnownPositives:
    if users.shape != items.shape:
        raise DataError(f"{users.size} positive users but {items.size} positive items")
    _check_range(items, num_items, "item")
    if known_positive is None:
        known = KnownPositives(users, items, num_items)
    elif isinstance(known_positive, KnownPositives):
        known = known_positive
    elif isinstance(known_positive, set):
        known = KnownPositives.from_pairs(known_positive, num_items)
    elif sp.issparse(known_positive):
        known = KnownPositives.from_sparse(known_positive)
    else:
        raise ConfigError(
            "known_positive must be KnownPositives, a scipy sparse matrix, a set of "
            f"(user, item) pairs or None, got {type(known_positive).__name__}"
        )
    if known.num_items != num_items:
        raise ConfigError(f"known_positive covers {known.num_items} items, not {num_items}")
    return known


def _as_index(values: object) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise DataError(f"expected integer indices, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False).reshape(-1)


def _check_range(items: np.ndarray, num_items: int, what: str) -> None:
    if items.size and (items.min() < 0 or items.max() >= num_items):
        raise DataError(f"{what} index outside 0..{num_items - 1}", column=what)
