"""The one contract every recommender follows, baselines and GNNs alike.

Evaluation, the service, the CLI and the benchmarks depend on :class:`Recommender`, never on a
particular model: ``fit`` learns from :class:`~storex.models.data.InteractionData`, ``score``
gives a users x items score block for full ranking, ``recommend`` turns it into top-K with
the shop's filters, and ``save``/``load`` move a fitted model through a folder of arrays plus
JSON (no pickle).

New items (added after training, features only) are scored through user and item *states*,
so each side is computed once and a request only pays for the product:

* :meth:`Recommender.embed_new_items` turns the new items' features into states ``(n, d)``,
  once per item (a caller keeps them);
* the user side is :meth:`Recommender.user_states` for training users and the states
  :meth:`Recommender.score_new_users_with_states` returns beside the scores for users folded
  in or scored from features alone;
* :meth:`Recommender.score_new_items` scores users' states against items' states, on the
  same scale as ``score`` so new and trained items rank together.

A model supports new items when ``embed_new_items`` does not raise
:class:`NotImplementedError`; the other three must then work too.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from storex.errors import ModelError, NotFittedError
from storex.io import atomic_path, write_json
from storex.models.data import DataSpec, InteractionData
from storex.retrieval.exact import (
    DEFAULT_MEMORY_MB,
    BlockTopK,
    exact_top_k,
    mask_excluded,
    top_k_rows,
)

CONFIG_FILE = "model.json"
STATE_FILE = "model.pt"


class Recommender(ABC):
    """Base of every model.

    Subclasses store hyperparameters in ``__init__`` (plain JSON-able values, listed by
    :meth:`get_params`), learn in :meth:`fit` and keep learned state in attributes ending in
    ``_``; :meth:`state` / :meth:`set_state` expose that state as tensors for saving.
    """

    name: ClassVar[str]

    spec_: DataSpec

    @property
    def num_users_(self) -> int:
        return self.spec_.num_users

    @property
    def num_items_(self) -> int:
        return self.spec_.num_items

    @abstractmethod
    def fit(self, data: InteractionData) -> Self:
        """Learn from the training pairs of ``data`` (valid pairs may drive early stopping)."""

    @abstractmethod
    def score(self, users: Tensor) -> Tensor:
        """Scores of every item for each of ``users``: shape ``(len(users), num_items)``."""

    @abstractmethod
    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as given to ``__init__``."""

    @abstractmethod
    def state(self) -> dict[str, Tensor]:
        """Learned tensors (what :meth:`save` writes)."""

    @abstractmethod
    def set_state(self, state: dict[str, Tensor]) -> None:
        """Restore what :meth:`state` returned (``spec_`` is already set)."""

    def score_new_users(self, user_x: Tensor, histories: Sequence[Tensor]) -> Tensor:
        """Scores for users unseen in training: features ``(B, user_dim)`` and, per user, the
        item indices they have interacted with so far (possibly none).

        The cold-start path of the service and of cold-start evaluation. Models that cannot
        do it raise :class:`NotImplementedError`; callers then fall back to popularity.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot score users unseen in training")

    def score_new_users_with_states(
        self, user_x: Tensor, histories: Sequence[Tensor]
    ) -> tuple[Tensor, Tensor]:
        """:meth:`score_new_users` plus the users' states ``(B, d)`` those scores came from,
        which :meth:`score_new_items` reads (a new user's row then needs no second pass)."""
        raise NotImplementedError(
            f"{type(self).__name__} has no states for users unseen in training"
        )

    def embed_new_items(self, item_x: Tensor) -> Tensor:
        """States ``(n, d)`` of items unseen in training from their encoded features
        ``(n, item_dim)`` alone (the new-item path of the service and of cold-item
        evaluation). Models that cannot do it raise :class:`NotImplementedError`; their new
        items then stay out of recommendations."""
        raise NotImplementedError(f"{type(self).__name__} cannot embed items unseen in training")

    def user_states(self, users: Tensor) -> Tensor:
        """States ``(len(users), d)`` of training users, as :meth:`score_new_items` reads them."""
        raise NotImplementedError(f"{type(self).__name__} has no user states")

    def score_new_items(self, user_states: Tensor, item_states: Tensor) -> Tensor:
        """Scores ``(B, n)`` of new items' states (:meth:`embed_new_items`) for users' states
        (:meth:`user_states`, :meth:`score_new_users_with_states`), comparable with
        :meth:`score`."""
        raise NotImplementedError(f"{type(self).__name__} cannot score items unseen in training")

    def item_vectors(self) -> Tensor | None:
        """Learned item vectors ``(num_items, d)``, or None for models without them.

        The default of :meth:`item_weights` compares them by cosine.
        """
        return None

    def dot_factors(self) -> tuple[Tensor, Tensor] | None:
        """User and item vectors ``(U, d)``, ``(I, d)`` whose dot products are exactly
        :meth:`score`, or None when scores are not a plain product (an MLP head, item-item
        weights). Batch scoring and nearest-neighbour retrieval need them; without them both
        fall back to :meth:`score`."""
        return None

    def item_weights(self, sources: Tensor, targets: Tensor | None = None) -> Tensor:
        """How strongly each of ``sources`` points to each of ``targets`` (all items if None),
        shape ``(len(sources), len(targets))``: the item-item view used for "similar items"
        and for "because you rated X" explanations.

        The default is the cosine of :meth:`item_vectors`; item-item models override it with
        their learned weights. Models with neither raise :class:`NotImplementedError`.
        """
        self.check_fitted()
        vectors = self.item_vectors()
        if vectors is None:
            raise NotImplementedError(f"{type(self).__name__} has no item-item view")
        unit = torch.nn.functional.normalize(vectors.detach().float(), dim=1)
        chosen = unit if targets is None else unit[targets.long()]
        return unit[sources.long()] @ chosen.T

    def similar_items(self, items: Tensor, k: int = 10) -> tuple[Tensor, Tensor]:
        """The ``k`` items most similar to each of ``items`` by :meth:`item_weights`, the
        item itself left out: indices and weights, shape ``(len(items), k)`` each, best first."""
        return top_other_items(self.item_weights(items.long()), items, k)

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "spec_")

    def check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() first")

    def recommend(
        self,
        users: Tensor,
        k: int = 10,
        *,
        exclude: sp.csr_matrix | None = None,
        candidates: Tensor | None = None,
        memory_mb: float = DEFAULT_MEMORY_MB,
    ) -> tuple[Tensor, Tensor]:
        """Top-``k`` items and scores per user, best first, in chunks of ``memory_mb``.

        Parameters
        ----------
        users
            User indices, shape ``(B,)``.
        exclude
            Users x items matrix whose non-zeros are never recommended (items already seen,
            out of stock, ...); rows are taken for ``users``.
        candidates
            Item indices the answer must come from (e.g. one category); all items if None.

        Returns ``(B, k)`` items and scores; a user with fewer than ``k`` admissible items
        has the rest padded with item -1 and score -inf.
        """
        self.check_fitted()
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        users = users.long()
        excluded = None if exclude is None else exclude[users.numpy()]
        allowed = None
        if candidates is not None:
            allowed = torch.zeros(self.num_items_, dtype=torch.bool)
            allowed[candidates] = True
        factors = self.dot_factors()
        if factors is not None:
            return exact_top_k(
                factors[0][users],
                factors[1],
                k,
                exclude=excluded,
                allowed=allowed,
                memory_mb=memory_mb,
            )
        out_items = torch.empty((users.numel(), k), dtype=torch.long)
        out_scores = torch.empty((users.numel(), k))
        rows = BlockTopK(self.num_items_, k).chunk_rows(memory_mb)
        for start in range(0, users.numel(), rows):
            stop = min(start + rows, users.numel())
            with torch.no_grad():
                scores = self.score(users[start:stop]).float().clone()
            if excluded is not None:
                mask_excluded(scores, excluded[start:stop])
            if allowed is not None:
                scores[:, ~allowed] = -torch.inf
            out_items[start:stop], out_scores[start:stop] = top_k_rows(scores, k)
        return out_items, out_scores

    def save(self, folder: str | Path) -> None:
        """Write ``model.json`` (name, params, sizes) and ``model.pt`` (tensors only)."""
        self.check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / STATE_FILE) as tmp:
            torch.save(self.state(), tmp)
        write_json(
            folder / CONFIG_FILE,
            {"name": self.name, "params": self.get_params(), "spec": asdict(self.spec_)},
        )

    @classmethod
    def load(cls, folder: str | Path) -> Recommender:
        """Rebuild a saved model; the class is found by the saved ``name``."""
        from storex.models.registry import model_class

        folder = Path(folder)
        config = _read_config(folder / CONFIG_FILE)
        model = model_class(config["name"])(**config["params"])
        try:
            state = torch.load(folder / STATE_FILE, weights_only=True, map_location="cpu")
        except FileNotFoundError as exc:
            raise ModelError(f"{folder / STATE_FILE}: model weights missing") from exc
        except Exception as exc:  # torch raises several types for a damaged file
            raise ModelError(f"{folder / STATE_FILE}: cannot read model weights: {exc}") from exc
        model.spec_ = DataSpec(**config["spec"])
        model.set_state(state)
        return model

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelError(f"{path}: model description missing") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from exc
    missing = {"name", "params", "spec"} - set(config)
    if missing:
        raise ModelError(f"{path}: missing keys {sorted(missing)}")
    return config


def top_other_items(weights: Tensor, items: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top-``k`` columns of each row of ``weights`` (one row per item of ``items``), leaving
    out the item itself: indices and weights, best first."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    weights = weights.float().clone()
    weights[torch.arange(len(items)), items.long()] = -torch.inf
    top_weights, top_items = torch.topk(weights, min(k, max(weights.shape[1] - 1, 1)), dim=1)
    return top_items, top_weights


def as_numpy_scores(scores: Tensor) -> np.ndarray:
    """Scores as a float32 array (for numpy-based metrics)."""
    return scores.detach().cpu().float().numpy()
