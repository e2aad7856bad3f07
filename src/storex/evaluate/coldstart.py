"""Cold-start evaluation: users and items the model never saw while training.

A seeded share of users (or items) is removed from every split, a fresh model is fitted on
what is left, and the held-out ones are then scored through the model's cold-start path.
Each run reports references beside the model, computed on the same reduced data, so a
number can be read against something that needs no learning at all.

:class:`~storex.models.data.InteractionData` carries no timestamps, so a held-out user's
"first n" interactions are the first n in the order the data gives (see
:data:`HISTORY_ORDER`), not the n earliest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from storex.errors import ConfigError, DataError, EmptyDataError, ModelError
from storex.evaluate.evaluator import masked_top_k
from storex.evaluate.metrics import RankingAccumulator, check_ks
from storex.models.base import Recommender
from storex.models.data import InteractionData

HISTORY_ORDER = (
    "the held-out user's training pairs in stored order; the training graph keeps them "
    "sorted by item index, so 'first n' means the n lowest item indices, not the n earliest"
)


def evaluate_cold_users(
    make_model: Callable[[], Recommender],
    data: InteractionData,
    *,
    fraction: float = 0.1,
    reveal: Iterable[int] = (0, 1, 3, 5),
    seed: int = 42,
    ks: Iterable[int] = (5, 10, 20),
    batch_size: int = 1024,
) -> dict[str, Any]:
    """Fit without some users, then recommend to them from features plus ``n`` interactions.

    Protocol
    --------
    * Eligible users have at least ``max(reveal)`` training pairs and more than
      ``max(reveal)`` distinct items over all splits, so every ``n`` is measured on the same
      users with at least one item left to find. ``round(fraction * eligible)`` of them
      (at least one), drawn with ``seed``, are held out.
    * All their train, valid and test pairs leave the data; the remaining users are
      renumbered, features stay with them, items keep their indices. A fresh
      ``make_model()`` is fitted on that.
    * For each ``n`` in ``reveal``, a held-out user's history is their first ``n`` training
      pairs (see :data:`HISTORY_ORDER`), given to ``score_new_users(user_x, histories)``;
      the revealed items are masked and every other item of the user, in any split, is
      truth; all items are ranked.
    * ``most_popular`` ranks by training degree on the reduced data, ``random`` uniformly at
      random (seeded), both with the same masks and truth.

    A model whose ``score_new_users`` raises :class:`NotImplementedError` is reported as
    unsupported for that ``n``.
    """
    ks = check_ks(ks)
    reveal = _check_reveal(reveal)
    _check_fraction(fraction)
    most = reveal[-1]
    everything = data.matrix("train", "valid", "test")
    sequences = _train_sequences(data)
    lengths = np.array([s.size for s in sequences])
    eligible = np.flatnonzero((lengths >= most) & (np.diff(everything.indptr) > most))
    if not eligible.size:
        raise EmptyDataError(f"no user has more than {most} interactions to hold out")
    held = _draw(eligible, fraction, seed)
    keep_users = np.ones(data.num_users, dtype=bool)
    keep_users[held] = False
    reduced = subset_data(data, keep_users, np.ones(data.num_items, dtype=bool))

    model = make_model()
    name = _name(model)
    supported = _overrides(model, "score_new_users")
    fit_seconds = _fit(model, reduced) if supported else 0.0
    popularity = reduced.item_popularity()
    generator = torch.Generator().manual_seed(seed)

    by_reveal: dict[str, dict[str, Any]] = {}
    unsupported: dict[str, str] = {}
    for n in reveal:
        histories = [torch.from_numpy(sequences[u][:n].copy()) for u in held]
        revealed = _rows_matrix(histories, data.num_items)
        truth = everything[held] - revealed
        truth.eliminate_zeros()
        entry: dict[str, Any] = {"users": int(held.size)}
        if supported:
            try:
                entry["model"] = _score_cold_users(
                    model, data.user_x[held], histories, revealed, truth, ks, batch_size
                )
            except NotImplementedError as exc:
                unsupported[str(n)] = str(exc) or type(exc).__name__
                entry["model"] = None
        else:
            unsupported[str(n)] = f"{type(model).__name__} has no score_new_users"
            entry["model"] = None
        entry["most_popular"] = _score_fixed(popularity, revealed, truth, ks, batch_size)
        entry["random"] = _score_random(generator, revealed, truth, ks, batch_size)
        by_reveal[str(n)] = entry

    return {
        "kind": "cold_users",
        "model": name,
        "status": _status(len(unsupported), len(reveal)),
        "unsupported": unsupported,
        "fraction": fraction,
        "seed": seed,
        "ks": list(ks),
        "reveal": list(reveal),
        "eligible_users": int(eligible.size),
        "held_out_users": int(held.size),
        "history_order": HISTORY_ORDER,
        "fit_seconds": round(fit_seconds, 4),
        "by_reveal": by_reveal,
    }


def evaluate_cold_items(
    make_model: Callable[[], Recommender],
    data: InteractionData,
    *,
    fraction: float = 0.1,
    seed: int = 42,
    ks: Iterable[int] = (5, 10, 20),
    batch_size: int = 1024,
) -> dict[str, Any]:
    """Fit without some items, then rank them, from their features, among all items.

    Protocol
    --------
    * ``round(fraction * items with any interaction)`` items (at least one, drawn with
      ``seed``) are held out: all their pairs leave every split, the remaining items are
      renumbered, users keep their indices. A fresh ``make_model()`` is fitted on that.
    * Scores over the full catalog are the model's ``score(users)`` for the warm items and,
      for the held-out ones, ``score_new_items(user_states(users), embed_new_items(item_x))``
      (the new-item contract of :mod:`storex.models.base`, as the service uses it).
    * Evaluated users interacted with at least one held-out item and still have a training
      pair after the removal (users left with none are counted in ``skipped_users``: they
      would be cold too). Truth is their held-out items; every warm item they interacted
      with in any split is masked, so the list competes the new items against everything
      the user has not touched, and only new items can score.
    * ``random`` ranks the candidates uniformly at random (seeded): an item without history
      has no popularity, so chance is the only reference that needs no features.

    A model that does not override ``embed_new_items``, or whose new-item methods raise
    :class:`NotImplementedError`, is reported as unsupported.
    """
    ks = check_ks(ks)
    _check_fraction(fraction)
    everything = data.matrix("train", "valid", "test")
    active = np.flatnonzero(np.diff(everything.tocsc().indptr) > 0)
    if active.size < 2:
        raise EmptyDataError("cold items need at least two items with interactions")
    held = _draw(active, fraction, seed)
    if held.size >= active.size:
        raise ConfigError(f"fraction {fraction} would hold out every item with interactions")
    is_cold = np.zeros(data.num_items, dtype=bool)
    is_cold[held] = True
    reduced = subset_data(data, np.ones(data.num_users, dtype=bool), ~is_cold)

    cold_column = sp.diags(is_cold.astype(np.float32), format="csr")
    warm_column = sp.diags((~is_cold).astype(np.float32), format="csr")
    truth_all = (everything @ cold_column).tocsr()
    exclude_all = (everything @ warm_column).tocsr()
    truth_all.eliminate_zeros()
    exclude_all.eliminate_zeros()
    touched = np.diff(truth_all.indptr) > 0
    still_warm = np.bincount(reduced.train[0].numpy(), minlength=data.num_users) > 0
    users = np.flatnonzero(touched & still_warm)
    skipped = int((touched & ~still_warm).sum())
    if not users.size:
        raise EmptyDataError("no user of a held-out item keeps a training pair")

    model = make_model()
    name = _name(model)
    supported = _overrides(model, "embed_new_items")
    reason = "" if supported else f"{type(model).__name__} has no embed_new_items"
    fit_seconds = 0.0
    model_metrics: dict[str, float] | None = None
    if supported:
        fit_seconds = _fit(model, reduced)
        try:
            model_metrics = _score_cold_items(
                model, data, is_cold, users, truth_all, exclude_all, ks, batch_size
            )
        except NotImplementedError as exc:
            reason = str(exc) or type(exc).__name__

    generator = torch.Generator().manual_seed(seed)
    random_metrics = _score_random(generator, exclude_all[users], truth_all[users], ks, batch_size)

    return {
        "kind": "cold_items",
        "model": name,
        "status": "ok" if model_metrics is not None else "unsupported",
        "reason": reason,
        "fraction": fraction,
        "seed": seed,
        "ks": list(ks),
        "held_out_items": int(held.size),
        "users": int(users.size),
        "skipped_users": skipped,
        "fit_seconds": round(fit_seconds, 4),
        "results": {"model": model_metrics, "random": random_metrics},
    }


def subset_data(
    data: InteractionData, keep_users: np.ndarray, keep_items: np.ndarray
) -> InteractionData:
    """The data restricted to kept users and items, renumbered densely in their old order.

    Pairs touching a dropped user or item leave every split, with their ratings; features
    of kept users and items come along.
    """
    if keep_users.shape != (data.num_users,) or keep_items.shape != (data.num_items,):
        raise ValueError("keep masks must have one entry per user and per item")
    user_map = np.cumsum(keep_users) - 1
    item_map = np.cumsum(keep_items) - 1
    parts: dict[str, Tensor] = {}
    for split in ("train", "valid", "test"):
        pairs: Tensor = getattr(data, split)
        rating: Tensor = getattr(data, f"{split}_rating")
        users, items = pairs.numpy()
        keep = keep_users[users] & keep_items[items]
        parts[split] = torch.from_numpy(np.stack([user_map[users[keep]], item_map[items[keep]]]))
        if rating.numel() == pairs.shape[1]:
            parts[f"{split}_rating"] = rating[torch.from_numpy(keep)]
        elif not rating.numel():
            parts[f"{split}_rating"] = rating
        else:
            raise DataError(f"{split} split: {rating.numel()} ratings for {pairs.shape[1]} pairs")
    return InteractionData(
        num_users=int(keep_users.sum()),
        num_items=int(keep_items.sum()),
        user_x=data.user_x[torch.from_numpy(keep_users)],
        item_x=data.item_x[torch.from_numpy(keep_items)],
        **parts,
    )


def _score_cold_users(
    model: Recommender,
    user_x: Tensor,
    histories: list[Tensor],
    revealed: sp.csr_matrix,
    truth: sp.csr_matrix,
    ks: tuple[int, ...],
    batch_size: int,
) -> dict[str, float]:
    accumulator = RankingAccumulator(ks, truth.shape[1])
    with torch.no_grad():
        for start in range(0, len(histories), batch_size):
            stop = start + batch_size
            scores = model.score_new_users(user_x[start:stop], histories[start:stop])
            _check_shape(scores, (len(histories[start:stop]), truth.shape[1]), "score_new_users")
            accumulator.add(masked_top_k(scores, revealed[start:stop], max(ks)), truth[start:stop])
    return accumulator.result()


def _score_cold_items(
    model: Recommender,
    data: InteractionData,
    is_cold: np.ndarray,
    users: np.ndarray,
    truth: sp.csr_matrix,
    exclude: sp.csr_matrix,
    ks: tuple[int, ...],
    batch_size: int,
) -> dict[str, float]:
    cold_index = torch.from_numpy(np.flatnonzero(is_cold))
    warm_index = torch.from_numpy(np.flatnonzero(~is_cold))
    accumulator = RankingAccumulator(ks, data.num_items)
    with torch.no_grad():
        cold_states = model.embed_new_items(data.item_x[cold_index])
        _check_rows(cold_states, cold_index.numel(), "embed_new_items")
        for start in range(0, users.size, batch_size):
            batch = users[start : start + batch_size]
            index = torch.from_numpy(batch)
            warm_scores = model.score(index)
            _check_shape(warm_scores, (batch.size, warm_index.numel()), "score")
            scores = torch.empty(batch.size, data.num_items)
            scores[:, warm_index] = warm_scores.float()
            cold_scores = model.score_new_items(model.user_states(index), cold_states)
            _check_shape(cold_scores, (batch.size, cold_index.numel()), "score_new_items")
            scores[:, cold_index] = cold_scores.float()
            accumulator.add(masked_top_k(scores, exclude[batch], max(ks)), truth[batch])
    return accumulator.result()


def _score_fixed(
    item_scores: Tensor,
    exclude: sp.csr_matrix,
    truth: sp.csr_matrix,
    ks: tuple[int, ...],
    batch_size: int,
) -> dict[str, float]:
    """Rank one score vector (e.g. popularity) for every user under their own mask."""
    return _rank_rows(
        lambda count: item_scores.float().expand(count, -1), exclude, truth, ks, batch_size
    )


def _score_random(
    generator: torch.Generator,
    exclude: sp.csr_matrix,
    truth: sp.csr_matrix,
    ks: tuple[int, ...],
    batch_size: int,
) -> dict[str, float]:
    """Rank uniformly random scores for every user (row) under their own mask."""
    return _rank_rows(
        lambda count: torch.rand(count, truth.shape[1], generator=generator),
        exclude,
        truth,
        ks,
        batch_size,
    )


def _rank_rows(
    scores_for: Callable[[int], Tensor],
    exclude: sp.csr_matrix,
    truth: sp.csr_matrix,
    ks: tuple[int, ...],
    batch_size: int,
) -> dict[str, float]:
    """Rank ``scores_for(rows)`` batch by batch, each user under their own mask."""
    accumulator = RankingAccumulator(ks, truth.shape[1])
    for start in range(0, truth.shape[0], batch_size):
        rows = slice(start, start + batch_size)
        scores = scores_for(exclude[rows].shape[0])
        accumulator.add(masked_top_k(scores, exclude[rows], max(ks)), truth[rows])
    return accumulator.result()


def _train_sequences(data: InteractionData) -> list[np.ndarray]:
    """Each user's training items in stored order (a stable sort keeps it within a user)."""
    users, items = data.train.numpy()
    order = np.argsort(users, kind="stable")
    bounds = np.cumsum(np.bincount(users, minlength=data.num_users))[:-1]
    return np.split(items[order], bounds)


def _rows_matrix(rows: list[Tensor], num_items: int) -> sp.csr_matrix:
    """Binary CSR with one row per list of item indices."""
    lengths = np.array([r.numel() for r in rows], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = torch.cat(rows).numpy() if rows else np.empty(0, dtype=np.int64)
    matrix = sp.csr_matrix(
        (np.ones(indices.size, dtype=np.float32), indices, indptr), shape=(len(rows), num_items)
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _draw(pool: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    count = max(1, round(fraction * pool.size))
    return np.sort(np.random.default_rng(seed).choice(pool, size=count, replace=False))


def _fit(model: Recommender, data: InteractionData) -> float:
    start = time.perf_counter()
    model.fit(data)
    return time.perf_counter() - start


def _overrides(model: Recommender, method: str) -> bool:
    """Whether the model's class replaces the base method (the base one always refuses)."""
    return getattr(type(model), method, None) is not getattr(Recommender, method)


def _check_shape(scores: Tensor, expected: tuple[int, int], method: str) -> None:
    if tuple(scores.shape) != expected:
        raise ModelError(f"{method} returned shape {tuple(scores.shape)}, expected {expected}")


def _check_rows(states: Tensor, rows: int, method: str) -> None:
    if states.dim() != 2 or states.shape[0] != rows:
        raise ModelError(f"{method} returned shape {tuple(states.shape)}, expected ({rows}, d)")


def _check_reveal(reveal: Iterable[int]) -> tuple[int, ...]:
    given = list(reveal)
    values = sorted({int(n) for n in given})
    if not values or values[0] < 0:
        raise ConfigError(f"reveal must hold non-negative history lengths, got {given}")
    return tuple(values)


def _check_fraction(fraction: float) -> None:
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"fraction must be between 0 and 1 (exclusive), got {fraction}")


def _status(unsupported: int, total: int) -> str:
    if not unsupported:
        return "ok"
    return "unsupported" if unsupported == total else "partial"


def _name(model: Recommender) -> str:
    return str(getattr(model, "name", type(model).__name__))
