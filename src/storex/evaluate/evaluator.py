"""Full-ranking evaluation of any :class:`~storex.models.base.Recommender`.

Every user is scored against every item, batch by batch; known positives are masked and the
top-K compared with the held-out positives of the split. Two protocols:

``reference``
    The LightGCN / LightGCN++ reference code: only TRAIN positives are masked, for the valid
    and the test split alike. Published tables use it, so comparisons with papers do too.
``strict``
    When scoring test, train and valid positives are masked (a deployed model would never
    recommend either); when scoring valid, train only.

Averages are over users with at least one positive in the split; how many requested users
had none is reported, never silently dropped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from storex.errors import ConfigError, DataError, EmptyDataError, ModelError
from storex.evaluate.metrics import RANKING_METRICS, RankingAccumulator, check_ks, mae, rmse
from storex.models.base import Recommender
from storex.models.data import InteractionData

Protocol = Literal["reference", "strict"]
PROTOCOLS: tuple[str, ...] = ("reference", "strict")
EVAL_SPLITS: tuple[str, ...] = ("valid", "test")
RATING_CHUNK = 65536

ScoreFn = Callable[[Tensor], Tensor]
"""``users -> (len(users), num_items)`` scores, e.g. ``Recommender.score``."""


@dataclass(frozen=True)
class EvaluationResult(Mapping[str, float]):
    """Metric means (``result["recall@10"]``) plus how they were obtained."""

    metrics: dict[str, float]
    users: int
    seconds: float
    protocol: str
    split: str
    model: str = ""
    skipped_users: int = 0
    rating_pairs: int = 0

    def __getitem__(self, key: str) -> float:
        return self.metrics[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.metrics)

    def __len__(self) -> int:
        return len(self.metrics)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the rows :func:`storex.evaluate.report.comparison_table` reads."""
        return {
            "model": self.model,
            "split": self.split,
            "protocol": self.protocol,
            "users": self.users,
            "skipped_users": self.skipped_users,
            "rating_pairs": self.rating_pairs,
            "seconds": round(self.seconds, 4),
            "metrics": dict(self.metrics),
        }


@dataclass(frozen=True)
class _Plan:
    """What one (split, protocol, users) evaluation needs, built once and reusable."""

    users: np.ndarray
    truth: sp.csr_matrix
    exclude: sp.csr_matrix
    skipped: int


def evaluate(
    model: Recommender,
    data: InteractionData,
    *,
    split: str = "test",
    protocol: Protocol = "reference",
    ks: Iterable[int] = (5, 10, 20),
    batch_size: int = 1024,
    users: Tensor | np.ndarray | None = None,
) -> EvaluationResult:
    """Rank all items for the users of ``split`` and average the top-K metrics.

    Parameters
    ----------
    split
        ``"valid"`` or ``"test"``.
    protocol
        ``"reference"`` (mask train only) or ``"strict"`` (also mask valid when scoring test).
    users
        Restrict to these user indices (e.g. a segment); users without positives in the
        split are skipped and counted.

    Raises :class:`EmptyDataError` when no chosen user has a positive in the split.
    Rating errors (``rmse``, ``mae``) are added when the model has a
    ``predict_ratings(users, items) -> Tensor`` method and the split carries ratings.
    """
    start = time.perf_counter()
    ks = check_ks(ks)
    _check_model(model, data)
    plan = _plan(data, split, protocol, users)
    if not plan.users.size:
        raise EmptyDataError(f"no chosen user has a positive in the {split} split")
    metrics = _rank(model.score, plan, ks, batch_size)
    rating_metrics, rating_pairs = _rating_metrics(model, data, split, users, batch_size)
    metrics.update(rating_metrics)
    return EvaluationResult(
        metrics=metrics,
        users=int(plan.users.size),
        seconds=time.perf_counter() - start,
        protocol=protocol,
        split=split,
        model=str(getattr(model, "name", type(model).__name__)),
        skipped_users=plan.skipped,
        rating_pairs=rating_pairs,
    )


def quick_validator(
    data: InteractionData,
    metric: str = "ndcg@20",
    protocol: Protocol = "reference",
    *,
    batch_size: int = 1024,
) -> Callable[[Recommender], float]:
    """A ``model -> float`` scorer on the valid split, for early stopping (higher is better).

    Masks and truth are built once here, so each call only scores and ranks.
    """
    family, k = parse_metric(metric)
    validate_scores = score_validator(data, ks=(k,), protocol=protocol, batch_size=batch_size)
    name = f"{family}@{k}"

    def validate(model: Recommender) -> float:
        _check_model(model, data)
        return validate_scores(model.score)[name]

    return validate


def score_validator(
    data: InteractionData,
    ks: Iterable[int] = (10, 20),
    protocol: Protocol = "reference",
    *,
    split: str = "valid",
    batch_size: int = 1024,
) -> Callable[[ScoreFn], dict[str, float]]:
    """Every ranking metric of ``split`` from a bare ``score_fn(users) -> (B, I)``.

    For training loops that score with a module before any :class:`Recommender` holds the
    embeddings; the numbers are exactly those :func:`evaluate` reports.
    """
    ks = check_ks(ks)
    plan = _plan(data, split, protocol, None)
    if not plan.users.size:
        raise EmptyDataError(f"the {split} split holds no positives: nothing to validate on")

    def validate(score_fn: ScoreFn) -> dict[str, float]:
        return _rank(score_fn, plan, ks, batch_size)

    return validate


def parse_metric(metric: str) -> tuple[str, int]:
    """``"ndcg@20"`` -> ``("ndcg", 20)``; only ranking metrics and coverage qualify."""
    match = re.fullmatch(r"([a-z_]+)@(\d+)", metric.strip())
    families = (*RANKING_METRICS, "coverage")
    if not match or match.group(1) not in families or int(match.group(2)) < 1:
        raise ConfigError(f"metric must look like 'ndcg@20' with one of {families}, got {metric!r}")
    return match.group(1), int(match.group(2))


def masked_top_k(scores: Tensor, exclude: sp.csr_matrix, k: int) -> np.ndarray:
    """Indices of the ``k`` best items per row once the stored entries of ``exclude`` are out.

    ``scores`` is copied before masking: models may hand back views of their own state.
    """
    scores = scores.detach().to("cpu", torch.float32, copy=True)
    if scores.ndim != 2 or scores.shape[0] != exclude.shape[0]:
        raise ModelError(f"scores of shape {tuple(scores.shape)} for {exclude.shape[0]} users")
    if torch.isnan(scores).any():
        raise ModelError("the model returned NaN scores")
    rows = np.repeat(np.arange(exclude.shape[0]), np.diff(exclude.indptr))
    scores[torch.from_numpy(rows), torch.from_numpy(exclude.indices.astype(np.int64))] = -torch.inf
    return torch.topk(scores, min(k, scores.shape[1]), dim=1).indices.numpy()


def _plan(
    data: InteractionData, split: str, protocol: str, users: Tensor | np.ndarray | None
) -> _Plan:
    if split not in EVAL_SPLITS:
        raise ConfigError(f"split must be one of {list(EVAL_SPLITS)}, got {split!r}")
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    masked = ("train", "valid") if protocol == "strict" and split == "test" else ("train",)
    truth = data.matrix(split)
    has_truth = np.diff(truth.indptr) > 0
    if users is None:
        chosen = np.arange(data.num_users)
    else:
        chosen = np.unique(np.asarray(users, dtype=np.int64).ravel())
        if chosen.size and (chosen[0] < 0 or chosen[-1] >= data.num_users):
            raise ConfigError(f"users must be indices in 0..{data.num_users - 1}")
    kept = chosen[has_truth[chosen]]
    return _Plan(kept, truth, data.matrix(*masked), int(chosen.size - kept.size))


def _rank(score_fn: ScoreFn, plan: _Plan, ks: tuple[int, ...], batch_size: int) -> dict[str, float]:
    if batch_size < 1:
        raise ConfigError(f"batch_size must be positive, got {batch_size}")
    accumulator = RankingAccumulator(ks, plan.truth.shape[1])
    with torch.no_grad():
        for start in range(0, plan.users.size, batch_size):
            batch = plan.users[start : start + batch_size]
            scores = score_fn(torch.from_numpy(batch))
            top = masked_top_k(scores, plan.exclude[batch], max(ks))
            accumulator.add(top, plan.truth[batch])
    return accumulator.result()


def _rating_metrics(
    model: Recommender,
    data: InteractionData,
    split: str,
    users: Tensor | np.ndarray | None,
    batch_size: int,
) -> tuple[dict[str, float], int]:
    """RMSE and MAE over the rated pairs of ``split``; nothing when either side is missing."""
    predict = getattr(model, "predict_ratings", None)
    pairs: Tensor = getattr(data, split)
    ratings: Tensor = getattr(data, f"{split}_rating").float()
    if predict is None or not ratings.numel() or torch.isnan(ratings).all():
        return {}, 0
    if ratings.numel() != pairs.shape[1]:
        raise DataError(f"{split} split: {ratings.numel()} ratings for {pairs.shape[1]} pairs")
    keep = ~torch.isnan(ratings)
    if users is not None:
        chosen = torch.zeros(data.num_users, dtype=torch.bool)
        chosen[torch.as_tensor(np.asarray(users, dtype=np.int64))] = True
        keep &= chosen[pairs[0]]
    pairs, ratings = pairs[:, keep], ratings[keep]
    if not ratings.numel():
        return {}, 0
    chunk = max(batch_size, RATING_CHUNK)
    predicted = []
    with torch.no_grad():
        for start in range(0, ratings.numel(), chunk):
            try:
                part = predict(pairs[0, start : start + chunk], pairs[1, start : start + chunk])
            except NotImplementedError:  # the method exists but this model has no rating head
                return {}, 0
            if part is None:
                return {}, 0
            predicted.append(torch.as_tensor(part).detach().cpu().float().view(-1))
    estimate = torch.cat(predicted)
    if estimate.numel() != ratings.numel():
        raise ModelError(f"predict_ratings gave {estimate.numel()} values for {ratings.numel()}")
    return {"rmse": rmse(estimate, ratings), "mae": mae(estimate, ratings)}, int(ratings.numel())


def _check_model(model: Recommender, data: InteractionData) -> None:
    model.check_fitted()
    if (model.num_users_, model.num_items_) != (data.num_users, data.num_items):
        raise ModelError(
            f"model was fitted for {model.num_users_} users x {model.num_items_} items, "
            f"the data has {data.num_users} x {data.num_items}"
        )
