"""What happens around the training steps: validation, early stopping, logs and checkpoints."""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch
from torch import Tensor

from storex.errors import ConfigError, DataError, ModelError
from storex.evaluate.metrics import mae, rmse
from storex.io import atomic_path
from storex.models.data import InteractionData

log = logging.getLogger(__name__)

ScoreFn = Callable[[Tensor], Tensor]
Validator = Callable[[ScoreFn], dict[str, float]]
PredictFn = Callable[[Tensor, Tensor], Tensor | None]
"""``(users, items) -> ratings`` of row-aligned pairs, None without a rating head."""

SHOWN_METRICS = ("loss", "rmse", "mae")
"""Besides every ``name@k``, what the progress bar shows of an epoch record."""


class RankingValidator:
    """Recall@K and NDCG@K by full ranking, the LightGCN reference protocol.

    Every item is scored for each user with positives in ``split``; the user's positives of the
    ``exclude`` splits are masked out (the reference code masks train only); recall is hits over
    the user's held-out items, NDCG has binary relevance with the ideal DCG over
    ``min(K, held-out items)``; both are averaged over users with held-out items.

    ``max_users`` caps the users ranked: above it a fixed subset drawn once with ``seed``
    (the same users every epoch, so epochs compare), which keeps validation of a big store
    from costing more than its training epoch.
    """

    def __init__(
        self,
        data: InteractionData,
        split: str = "valid",
        ks: Sequence[int] = (10, 20),
        exclude: Sequence[str] = ("train",),
        batch_size: int = 1024,
        max_users: int | None = None,
        seed: int = 0,
    ) -> None:
        if not ks or min(ks) < 1:
            raise ConfigError(f"cut-offs must be >= 1, got {list(ks)}")
        self.ks = sorted(set(ks))
        self.batch_size = batch_size
        self.truth = data.matrix(split)
        self.exclude = data.matrix(*exclude) if exclude else None
        users = np.flatnonzero(np.diff(self.truth.indptr) > 0)
        self.total_users = int(users.size)
        if max_users is not None and users.size > max_users:
            users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
        self.users = users
        self.num_items = data.num_items

    def __call__(self, score_fn: ScoreFn) -> dict[str, float]:
        k_max = min(max(self.ks), self.num_items)
        discount = 1.0 / torch.log2(torch.arange(2, k_max + 2, dtype=torch.float64))
        sums = {f"{m}@{k}": 0.0 for k in self.ks for m in ("recall", "ndcg")}
        for start in range(0, self.users.size, self.batch_size):
            users = self.users[start : start + self.batch_size]
            scores = score_fn(torch.from_numpy(users)).detach().float().cpu().clone()
            if self.exclude is not None:
                seen = self.exclude[users].tocoo()
                scores[
                    torch.from_numpy(seen.row).long(), torch.from_numpy(seen.col).long()
                ] = -torch.inf
            top = torch.topk(scores, k_max, dim=1).indices
            truth = torch.from_numpy(self.truth[users].toarray() > 0)
            hits = truth.gather(1, top).double()
            n_true = truth.sum(dim=1).double()
            ideal = torch.cumsum(discount, 0)
            for k in self.ks:
                kk = min(k, k_max)
                sums[f"recall@{k}"] += float((hits[:, :kk].sum(1) / n_true).sum())
                dcg = (hits[:, :kk] * discount[:kk]).sum(1)
                best = ideal[(n_true.clamp(max=kk) - 1).long()]
                sums[f"ndcg@{k}"] += float((dcg / best).sum())
        count = max(self.users.size, 1)
        return {name: value / count for name, value in sums.items()}


class RatingValidator:
    """RMSE and MAE of a rating predictor on the rated pairs of ``split``.

    Pairs without a rating (NaN) are left out; a data set with none raises, since a rating
    metric could then never be computed.
    """

    def __init__(self, data: InteractionData, split: str = "valid") -> None:
        pairs: Tensor = getattr(data, split)
        ratings: Tensor = getattr(data, f"{split}_rating").float()
        if ratings.numel() not in (0, pairs.shape[1]):
            raise DataError(f"{split} split: {ratings.numel()} ratings for {pairs.shape[1]} pairs")
        rated = ~torch.isnan(ratings) if ratings.numel() else torch.zeros(0, dtype=torch.bool)
        if not bool(rated.any()):
            raise ConfigError(f"the {split} split holds no ratings: nothing to validate rmse on")
        self.users, self.items = pairs[:, rated]
        self.ratings = ratings[rated]

    def __call__(self, predict_fn: PredictFn) -> dict[str, float] | None:
        """``{"rmse", "mae"}``, or None when ``predict_fn`` has no rating head (returns None)."""
        predicted = predict_fn(self.users, self.items)
        if predicted is None:
            return None
        predicted = predicted.detach().float().cpu()
        return {"rmse": rmse(predicted, self.ratings), "mae": mae(predicted, self.ratings)}


class EarlyStopping:
    """Stop when the watched metric has not improved for ``patience`` evaluations.

    Higher is better, unless ``lower_is_better`` (rating errors such as rmse and mae).
    """

    def __init__(
        self, patience: int, min_delta: float = 0.0, *, lower_is_better: bool = False
    ) -> None:
        self.patience, self.min_delta = patience, min_delta
        self.sign = -1.0 if lower_is_better else 1.0
        self.best = -self.sign * math.inf
        self.bad = 0

    def update(self, value: float) -> bool:
        """Record one evaluation; True when it is the best so far."""
        if self.sign * (value - self.best) > self.min_delta:
            self.best, self.bad = value, 0
            return True
        self.bad += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad >= self.patience

    def state_dict(self) -> dict[str, float]:
        return {"best": self.best, "bad": self.bad}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.best, self.bad = float(state["best"]), int(state["bad"])


class EpochLog:
    """Per-epoch records to JSON lines, TensorBoard (when installed) and a TTY progress bar."""

    def __init__(
        self, log_path: str | Path | None, total_epochs: int, start_epoch: int = 0
    ) -> None:
        self.path = None if log_path is None else Path(log_path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if start_epoch == 0:
                self.path.write_text("")
        self.writer = _tensorboard_writer(self.path)
        self.progress, self.task = _progress_bar(total_epochs, start_epoch)

    def write(self, record: dict[str, Any]) -> None:
        if self.path is not None:
            with self.path.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in record.items():
                if key != "epoch" and isinstance(value, int | float):
                    self.writer.add_scalar(key, value, record["epoch"])
        if self.progress is not None:
            shown = {k: v for k, v in record.items() if k in SHOWN_METRICS or "@" in k}
            text = " ".join(f"{k}={v:.4f}" for k, v in shown.items())
            self.progress.update(self.task, advance=1, description=text)
        log.debug("epoch %s", record)

    def __enter__(self) -> EpochLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.progress is not None:
            self.progress.stop()


def _tensorboard_writer(log_path: Path | None) -> Any:
    """A SummaryWriter beside the JSON log, or None without a log path or tensorboard."""
    if log_path is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(log_path.parent / "tensorboard"))


def _progress_bar(total: int, done: int) -> tuple[Any, Any]:
    """A transient bar on stderr when that is a terminal (stdout stays for results)."""
    if not sys.stderr.isatty():
        return None, None
    from rich.console import Console
    from rich.progress import Progress

    progress = Progress(console=Console(stderr=True), transient=True)
    progress.start()
    return progress, progress.add_task("training", total=total, completed=done)


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write a checkpoint atomically (a crash never leaves a half-written file)."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint; a missing or damaged file is a ModelError naming it."""
    if not path.is_file():
        raise ModelError(f"{path}: checkpoint missing, cannot resume")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged file
        raise ModelError(f"{path}: cannot read checkpoint: {exc}") from exc
    required = {"module", "optimizer", "epoch", "history", "rng", "stopper", "best"}
    if not isinstance(payload, dict) or required - set(payload):
        missing = sorted(required - set(payload)) if isinstance(payload, dict) else "all"
        raise ModelError(f"{path}: not a training checkpoint (missing {missing})")
    return payload


def rng_state(generator: np.random.Generator) -> dict[str, Any]:
    """Every random state a resumed run needs to continue identically."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": generator.bit_generator.state}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(generator: np.random.Generator, state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    generator.bit_generator.state = state["numpy"]
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
