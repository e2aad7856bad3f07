"""Score rows for one user through the model, whichever path their situation allows.

Paths, in the order they are tried:

``personalized``
    A training user whose positive edges are unchanged: the model's own row.
``fold_in``
    A user with positive edges the model did not train on (a new user who rated items, or a
    training user whose history changed): ``model.score_new_users`` with the user's features
    and current edges, no retraining. Models that cannot fold in keep serving a training
    user's trained row; a new user then falls through.
``cold_start_features``
    No positive edge yet, a feature-reading model and a user encoder: ``score_new_users``
    with the encoded demographics and an empty history.
``popularity``
    Everything else: the items' training degree.

Whether a model folds in and whether it reads user features is probed once, when the
engine is built (a model reading features scores two different feature rows differently).

A training user's trained row never changes for a model version, so the most recently used
ones are kept (within a memory budget) instead of being scored again on every request.

Items added after training: when the model embeds new items (probed once, see
:mod:`storex.models.base`), every row except ``popularity`` carries the user's state, taken
from the same model call as the scores, and :meth:`Scorer.score_new_items` scores the new
items' kept states against it: a product over the new items only, never a rescoring.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import Tensor

from storex.bundle import ModelBundle
from storex.errors import ModelError
from storex.features import UserEncoder
from storex.serve.engine.state import ScoreRow, UserState

_HISTORY_COLUMNS = ("history_log_count", "no_history", "avg_rating")
_FLOAT_BYTES = 4


class Scorer:
    """The model side of the engine: score rows, capabilities and user features.

    ``row_cache_bytes`` bounds the memory of kept trained rows (0: score every time).
    """

    def __init__(
        self, bundle: ModelBundle, user_encoder: UserEncoder | None, row_cache_bytes: int = 0
    ) -> None:
        if row_cache_bytes < 0:
            raise ValueError(f"row_cache_bytes must be >= 0, got {row_cache_bytes}")
        self.model = bundle.model
        self.model.check_fitted()
        self.num_users = self.model.num_users_
        self.num_items = self.model.num_items_
        self.popularity = bundle.data.item_popularity().float()
        self.user_x = bundle.data.user_x.float()
        self.user_encoder = user_encoder
        self.training = _training_matrix(bundle)
        self._history_columns: list[int] = []
        if user_encoder is not None:
            names = user_encoder.feature_names_
            if len(names) != self.user_x.shape[1]:
                raise ModelError(
                    f"user encoder makes {len(names)} features but the model's users have "
                    f"{self.user_x.shape[1]}; the bundle's encoder and graph do not match"
                )
            self._history_columns = [
                i for i, n in enumerate(names) if n.startswith(_HISTORY_COLUMNS)
            ]
        self.folds_in = self._probe_fold_in()
        self.reads_features = self._probe_features()
        self.item_dim = int(bundle.data.item_x.shape[1])
        self.new_items = self._probe_new_items()
        self.cached_rows = row_cache_bytes // (max(self.num_items, 1) * _FLOAT_BYTES)
        self._trained: OrderedDict[int, Tensor] = OrderedDict()
        self._trained_lock = threading.Lock()

    def training_row(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Item indices and ratings (NaN when implicit) of a training user's positives."""
        start, end = self.training.indptr[index], self.training.indptr[index + 1]
        return self.training.indices[start:end], self.training.data[start:end]

    def known_row(self, index: int, generation: int = 0) -> ScoreRow:
        """The trained row of training user ``index`` (never to be changed in place)."""
        degree = float(self.training.indptr[index + 1] - self.training.indptr[index])
        state = None
        if self.new_items:
            with torch.no_grad():
                state = self.model.user_states(torch.tensor([index]))[0]
        return ScoreRow(generation, self._trained_scores(index), "personalized", degree, state)

    def _trained_scores(self, index: int) -> Tensor:
        with self._trained_lock:
            scores = self._trained.get(index)
            if scores is not None:
                self._trained.move_to_end(index)
                return scores
        with torch.no_grad():
            scores = self.model.score(torch.tensor([index]))[0].float()
        if self.cached_rows:
            with self._trained_lock:
                self._trained[index] = scores
                while len(self._trained) > self.cached_rows:
                    self._trained.popitem(last=False)
        return scores

    def popularity_row(self, generation: int = 0) -> ScoreRow:
        return ScoreRow(generation, self.popularity, "popularity", 0.0)

    def row(self, state: UserState) -> ScoreRow:
        """The row for a user with live state (caller holds ``state.lock``)."""
        if not state.history_changed and state.index is not None:
            return self.known_row(state.index, state.generation)
        request = self.fold_in_request(state)
        if request is not None:
            (scores, evidence, user_state) = self.fold_in([request])[0]
            return ScoreRow(state.generation, scores, "fold_in", evidence, user_state)
        positives = state.positives()
        if positives.size and state.index is not None:
            return self.known_row(state.index, state.generation)
        if not positives.size and self.reads_features:
            scores, states = self._score_new_users(
                self.features(state), [torch.empty(0, dtype=torch.long)]
            )
            user_state = None if states is None else states[0]
            return ScoreRow(state.generation, scores[0], "cold_start_features", 1.0, user_state)
        return self.popularity_row(state.generation)

    def fold_in_request(self, state: UserState) -> tuple[Tensor, np.ndarray] | None:
        """What folding the user in takes (feature row, positive items), or None when their
        row comes another way (caller holds ``state.lock``)."""
        if not state.history_changed and state.index is not None:
            return None
        positives = state.positives()
        if not (positives.size and self.folds_in):
            return None
        return (self.features(state) if self.reads_features else self._mean_x(1)), positives

    def fold_in(
        self, requests: list[tuple[Tensor, np.ndarray]]
    ) -> list[tuple[Tensor, float, Tensor | None]]:
        """Scores, evidence and state (None unless the model scores new items) of users
        folded in, in one model call for all of them."""
        features = torch.cat([x for x, _ in requests])
        histories = [torch.from_numpy(items) for _, items in requests]
        scores, states = self._score_new_users(features, histories)
        bonus = float(self.reads_features)
        return [
            (scores[i].clone(), items.size + bonus, None if states is None else states[i].clone())
            for i, (_, items) in enumerate(requests)
        ]

    def embed_new_item(self, item_x: Tensor) -> Tensor | None:
        """The state ``(d,)`` of one item added after training from its encoded features
        ``(1, item_dim)``, or None when the model does not score new items."""
        if not self.new_items:
            return None
        with torch.no_grad():
            return self.model.embed_new_items(item_x)[0].float()

    def embed_new_items(self, item_x: Tensor) -> Tensor | None:
        """States ``(n, d)`` of items added after training from their encoded features
        ``(n, item_dim)`` in one model call, or None when the model does not score new items."""
        if not self.new_items:
            return None
        with torch.no_grad():
            return self.model.embed_new_items(item_x).float()

    def score_new_items(self, row: ScoreRow, item_states: Tensor) -> Tensor | None:
        """Scores ``(n,)`` of new items' states for the user of ``row``, or None when the row
        has no user state (popularity, or a model without the new-item path)."""
        if row.user_state is None:
            return None
        with torch.no_grad():
            return self.model.score_new_items(row.user_state[None, :], item_states)[0].float()

    def _score_new_users(
        self, features: Tensor, histories: list[Tensor]
    ) -> tuple[Tensor, Tensor | None]:
        """Scores of new users and, when the model scores new items, their states."""
        with torch.no_grad():
            if self.new_items:
                scores, states = self.model.score_new_users_with_states(features, histories)
                return scores.float(), states.float()
            return self.model.score_new_users(features, histories).float(), None

    def warm_trained(self, batch: int) -> int:
        """Score training users into the kept rows, ``batch`` at a time, until the budget is
        full; returns how many rows were added."""
        added = 0
        with self._trained_lock:
            room = self.cached_rows - len(self._trained)
            missing = [u for u in range(self.num_users) if u not in self._trained][:room]
        for start in range(0, len(missing), batch):
            users = missing[start : start + batch]
            with torch.no_grad():
                scores = self.model.score(torch.tensor(users)).float()
            with self._trained_lock:
                for row, user in enumerate(users):
                    self._trained.setdefault(user, scores[row].clone())
            added += len(users)
        return added

    def features(self, state: UserState) -> Tensor:
        """The user's feature row ``(1, user_dim)`` as the model was trained to read it.

        Users with demographics are encoded afresh, their current interactions summarised.
        A training user without them keeps the training row with the history columns
        brought up to date. Without an encoder a new user gets the mean training row.
        """
        if self.user_x.shape[1] == 0:
            return torch.zeros(1, 0)
        encoder = self.user_encoder
        if encoder is None:
            if state.index is not None:
                return self.user_x[state.index : state.index + 1].clone()
            return self.user_x.mean(dim=0, keepdim=True)
        history = state.ratings_frame()
        if state.demographics is None and state.index is not None:
            row = self.user_x[state.index : state.index + 1].clone()
            fresh = encoder.transform(None, [state.external_id], history)
            columns = self._history_columns
            row[0, columns] = torch.from_numpy(fresh[0, columns])
            return row
        users = pd.DataFrame([{**(state.demographics or {}), "user_id": state.external_id}])
        return torch.from_numpy(encoder.transform(users, [state.external_id], history))

    def _probe_fold_in(self) -> bool:
        try:
            with torch.no_grad():
                self.model.score_new_users(self._mean_x(1), [torch.tensor([0])])
        except NotImplementedError:
            return False
        return True

    def _probe_new_items(self) -> bool:
        try:
            with torch.no_grad():
                self.model.embed_new_items(torch.zeros(1, self.item_dim))
        except NotImplementedError:
            return False
        return True

    def _probe_features(self) -> bool:
        if self.user_x.shape[1] == 0 or self.user_encoder is None or self.num_users < 2:
            return False
        first = self.user_x[0]
        farthest = int(torch.argmax((self.user_x - first).pow(2).sum(dim=1)))
        rows = torch.stack([first, self.user_x[farthest]])
        empty = torch.empty(0, dtype=torch.long)
        try:
            with torch.no_grad():
                scores = self.model.score_new_users(rows, [empty, empty])
        except NotImplementedError:
            return False
        return not torch.allclose(scores[0], scores[1])

    def _mean_x(self, count: int) -> Tensor:
        return self.user_x.mean(dim=0, keepdim=True).expand(count, -1).clone()


def _training_matrix(bundle: ModelBundle) -> sp.csr_matrix:
    """Training positives as a users x items CSR matrix holding the ratings (NaN: none)."""
    data = bundle.data
    users, items = data.train.numpy()
    ratings = data.train_rating.numpy().astype(np.float64)
    if ratings.shape != users.shape:
        ratings = np.full(users.shape, np.nan)
    order = np.lexsort((items, users))
    indptr = np.zeros(data.num_users + 1, dtype=np.int64)
    indptr[1:] = np.cumsum(np.bincount(users, minlength=data.num_users))
    return sp.csr_matrix(
        (ratings[order], items[order], indptr), shape=(data.num_users, data.num_items)
    )
