"""The recommendation engine: a loaded bundle plus the shop's live state, no web framework.

The service stores every rating first and then tells the engine (``add_rating``,
``update_rating``, ``delete_rating``, ``register_user``, ``add_item``); the engine keeps the
affected users' histories in memory and rescores them through the model, without
retraining. How a user's scores are made is named in every answer (``strategy``, see
:mod:`storex.serve.engine.scoring`) with a ``confidence`` (see
:class:`~storex.serve.engine.results.Recommendations`).

New items: an item added after training is always in the catalog (filters, metadata). It is
recommendable when the model embeds new items (the new-item contract of
:mod:`storex.models.base`; GraphSAGE and GAT trained with item features do) and its features
can be encoded as in training (by the bundle's item encoder): ``add_item`` turns them into the
item's state once, and every answer scores the kept states against the user's state, which
training users, folded-in users and feature-only new users all have (popularity answers do
not: new items have no popularity, so they stay out of them). ``similar_items`` of a new item
compares its state with the trained items' embeddings. Otherwise a new item is catalog-only
(never recommended, ``predict`` gives NaN).

Every public method is thread-safe: each user has a lock, the catalog another.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import Tensor

from storex.bundle import ModelBundle
from storex.errors import DataError
from storex.features import ItemEncoder, UserEncoder
from storex.idmap import IdMap
from storex.retrieval.exact import best_first
from storex.serve.engine.cache import LRUCache, RecommendationCache
from storex.serve.engine.explain import EMBEDDING_COSINE, ItemRelations
from storex.serve.engine.filters import Catalog
from storex.serve.engine.policy import (
    DEFAULT_POSITIVE_THRESHOLD,
    RATING_EVENT,
    ExcludeSeen,
    ExclusionPolicy,
    is_positive,
)
from storex.serve.engine.results import STRATEGIES, Explanation, Recommendations, ScoredItem
from storex.serve.engine.scoring import Scorer
from storex.serve.engine.state import (
    Interaction,
    ScoreRow,
    UserState,
    UserStates,
    training_interactions,
)

log = logging.getLogger(__name__)

_COLD = ("cold_start_features", "popularity")
WARM_BATCH = 256


class UnknownIdError(DataError):
    """A user or item id the engine has never heard of."""


@dataclass
class LiveLog:
    """Everything the engine learned since its bundle was built, for a new version to replay.

    ``users`` holds, per user, their demographics (None if never registered) and their latest
    change per item (None: deleted), by external ids.
    """

    catalog: pd.DataFrame | None = None
    items: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    users: list[tuple[str, dict[str, Any] | None, list[tuple[str, Interaction | None]]]] = field(
        default_factory=list
    )


@dataclass
class _UserView:
    """What one answer reads about a user: score row, seen items, positive history."""

    row: ScoreRow
    seen: tuple[np.ndarray, list[str], np.ndarray]
    history: tuple[np.ndarray, np.ndarray]


class RecommendationEngine:
    """Serve recommendations from one :class:`~storex.bundle.ModelBundle`.

    Parameters
    ----------
    bundle
        The trained model, its training graph and id maps.
    cache
        Where answers are cached (default: an in-process :class:`LRUCache`).
    exclusion_policy
        Which seen items stay excluded (default :class:`ExcludeSeen`: all of them).
    user_encoder, item_encoder
        Feature encoders; by default loaded from the bundle folder when it has them.
    positive_threshold
        Ratings at or above it are positive edges (see :mod:`storex.serve.engine.policy`).
    confidence_half
        Evidence (positive interactions) at which ``confidence`` reaches 0.5.
    max_score_rows
        Live users whose recomputed score rows stay in memory.
    score_cache_mb
        Memory for training users' trained score rows, kept instead of scored per request
        (0: score every time).
    clock
        Time source (epoch seconds) for interaction times and the exclusion policy.
    """

    def __init__(
        self,
        bundle: ModelBundle,
        *,
        cache: RecommendationCache | None = None,
        exclusion_policy: ExclusionPolicy | None = None,
        user_encoder: UserEncoder | None = None,
        item_encoder: ItemEncoder | None = None,
        positive_threshold: float = DEFAULT_POSITIVE_THRESHOLD,
        confidence_half: float = 5.0,
        max_score_rows: int = 1024,
        score_cache_mb: float = 256.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not confidence_half > 0:
            raise ValueError(f"confidence_half must be > 0, got {confidence_half}")
        if not score_cache_mb >= 0:
            raise ValueError(f"score_cache_mb must be >= 0, got {score_cache_mb}")
        self.bundle = bundle
        self.version = bundle.version or "unversioned"
        self.user_encoder = user_encoder or _load_encoder(UserEncoder, bundle.path, "user")
        self.item_encoder = item_encoder or _load_encoder(ItemEncoder, bundle.path, "item")
        self.score_cache_mb = float(score_cache_mb)
        self.scorer = Scorer(bundle, self.user_encoder, int(score_cache_mb * 2**20))
        self.relations = ItemRelations(bundle.model, self.scorer.training)
        self.positive_threshold = float(positive_threshold)
        self.confidence_half = float(confidence_half)
        self.cache: RecommendationCache = cache if cache is not None else LRUCache()
        self.exclusion_policy: ExclusionPolicy = exclusion_policy or ExcludeSeen()
        self.clock = clock
        self.max_score_rows = max_score_rows
        self._num_model_items = self.scorer.num_items
        self._item_map = IdMap(bundle.item_map.ids)
        self._catalog = Catalog(len(self._item_map))
        self._catalog_frame: pd.DataFrame | None = None
        self._catalog_tag = "none"
        self._added: dict[str, dict[str, Any]] = {}
        self._updated: dict[str, dict[str, Any]] = {}
        self._new_x: list[Tensor | None] = []
        self._new_states: list[Tensor | None] = []
        self._scored_new: tuple[Tensor, Tensor] | None = None  # see _new_item_states
        self._scored_stale = False
        self._catalog_lock = threading.RLock()
        self._states = UserStates(max_score_rows)
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()

    # ----------------------------------------------------------------------------- answers

    def recommend(
        self,
        user_id: str,
        n: int = 10,
        *,
        exclude_rated: bool = True,
        category: str | None = None,
        min_price: float | None = None,
        max_price: float | None = None,
        allowed_items: Iterable[str] | None = None,
        in_stock_only: bool = False,
        explain: bool = False,
    ) -> Recommendations:
        """Top-``n`` items for ``user_id``, best first, after exclusion and filters.

        A user the engine has never heard of gets the popularity answer. Filters with
        values no item has give an empty list, never an error. ``allowed_items`` limits
        the answer to those ids; ``explain`` attaches up to three reasons per item (see
        :meth:`explain`).
        """
        user_id = str(user_id)
        if n < 1:
            raise DataError(f"n must be >= 1, got {n}", column="n")
        allowed = None if allowed_items is None else sorted({str(i) for i in allowed_items})
        state = self._states.get(user_id)
        request = [
            state.generation if state else 0,
            self._catalog_tag,
            n,
            exclude_rated,
            category,
            min_price,
            max_price,
            allowed,
            in_stock_only,
            explain,
        ]
        key = hashlib.sha1(json.dumps(request, default=str).encode()).hexdigest()
        cached = self._cache_call("get", user_id, key)
        if cached is not None:
            self._count("cache_hits")
            self._count(f"answers.{cached.strategy}")
            return cached.as_cached()
        self._count("cache_misses")
        with self._catalog_lock:
            mask = self._catalog.mask(
                category=category,
                min_price=min_price,
                max_price=max_price,
                allowed=None if allowed is None else self._known_items(allowed),
                in_stock_only=in_stock_only,
            )
        indexed = self._indexed(user_id, state, n, exclude_rated, mask)
        if indexed is not None:
            view, top_items, top_scores = indexed
        else:
            view = self._view(user_id, state)
            scores = self._full_row(view.row).numpy().copy()
            if exclude_rated and view.seen[0].size:
                scores[self._excluded(view.seen)] = -np.inf
            if mask is not None:
                scores[~mask.numpy()[: scores.size]] = -np.inf
            top_items = best_first(scores, n)
            top_scores = scores[top_items]
        because = self._reasons(view.history, torch.from_numpy(top_items), 3) if explain else {}
        external = self._item_map.external
        answer = Recommendations(
            user_id=user_id,
            items=tuple(
                ScoredItem(external(i), s, because.get(i, ()))
                for i, s in zip(top_items.tolist(), top_scores.tolist(), strict=True)
            ),
            strategy=view.row.strategy,  # type: ignore[arg-type]
            confidence=self._confidence(view.row),
            model_version=self.version,
        )
        self._cache_call("put", user_id, key, answer)
        self._count(f"answers.{answer.strategy}")
        if answer.strategy in _COLD:
            log.info("cold-start answer for user %r: %s", user_id, answer.strategy)
        return answer

    def predict(self, user_id: str, item_id: str) -> float:
        """The user's score of one item (NaN for a catalog-only item)."""
        return self.predict_batch(user_id, [item_id])[0]

    def predict_batch(self, user_id: str, item_ids: Sequence[str]) -> list[float]:
        """Scores of ``item_ids`` for the user, from the same row ``recommend`` ranks by."""
        items = [self._item_index(i) for i in item_ids]
        user_id = str(user_id)
        scores = self._full_row(self._view(user_id, self._states.get(user_id)).row)
        values = scores[torch.tensor(items, dtype=torch.long)].tolist() if items else []
        return [v if math.isfinite(v) else math.nan for v in values]

    def explain(self, user_id: str, item_id: str, top: int = 3) -> list[Explanation]:
        """The user's positive items that point most to ``item_id`` ("because you rated X")."""
        item = self._item_index(item_id)
        user_id = str(user_id)
        history = self._view(user_id, self._states.get(user_id)).history
        return list(self._reasons(history, torch.tensor([item]), top).get(item, ()))

    def similar_items(self, item_id: str, n: int = 10) -> list[ScoredItem]:
        """Items most related to ``item_id`` by the model's item-item view.

        An item added after training is compared by the cosine of its state with the trained
        items' embeddings when the model has both, else by the cosine of encoded features
        (empty when there are no item features).
        """
        if n < 1:
            raise DataError(f"n must be >= 1, got {n}", column="n")
        item = self._item_index(item_id)
        if item < self._num_model_items:
            items, weights = self.relations.similar(item, n)
        else:
            items, weights = self._similar_by_features(item, n)
        return [
            ScoredItem(self._item_map.external(i), w)
            for i, w in zip(items.tolist(), weights.tolist(), strict=True)
        ]

    def stats(self) -> dict[str, Any]:
        """Answers per strategy, cache hits and misses, live users, replay skips."""
        with self._counts_lock:
            counts = dict(self._counts)
        return {
            "model_version": self.version,
            "answers": {s: counts.get(f"answers.{s}", 0) for s in STRATEGIES},
            "cache": {k: counts.get(f"cache_{k}", 0) for k in ("hits", "misses", "errors")},
            "live_users": len(self._states),
            "added_items": len(self._added),
            "catalog_unknown_items": counts.get("catalog_unknown_items", 0),
            "replay_skipped": counts.get("replay_skipped", 0),
            "capabilities": {
                "fold_in": self.scorer.folds_in,
                "user_features": self.scorer.reads_features,
                "new_items": self._scores_new_items,
                "item_relations": self.relations.method,
            },
        }

    # ------------------------------------------------------------------------- live updates

    def register_user(self, user_id: str, demographics: Mapping[str, Any] | None = None) -> None:
        """Make a user known with their demographics (age, gender, occupation, zip).

        Bad demographics (say a negative age) raise :class:`DataError` and change nothing.
        """
        state = self._state(str(user_id))
        with state.lock:
            before = state.demographics
            state.demographics = dict(demographics) if demographics else None
            try:
                self.scorer.features(state)
            except DataError:
                state.demographics = before
                raise
            self._changed(state, refresh=False)

    def add_rating(
        self,
        user_id: str,
        item_id: str,
        rating: float | None,
        *,
        event: str = RATING_EVENT,
        at: float | None = None,
        refresh: bool = True,
    ) -> None:
        """Record an interaction (replacing the user's previous one with the item).

        The user's scores are recomputed through the model at once (``refresh=False`` defers
        that to their next request, for bulk loading).
        """
        item = self._item_index(item_id)
        value = math.nan if rating is None else float(rating)
        if event == RATING_EVENT and not math.isfinite(value):
            raise DataError(
                f"a rating event needs a finite rating, got {rating!r}", column="rating"
            )
        when = self.clock() if at is None else float(at)
        edge = item < self._num_model_items and is_positive(value, event, self.positive_threshold)
        interaction = Interaction(value, event, when, edge)
        state = self._state(str(user_id))
        with state.lock:
            state.set(item, str(item_id), interaction)
            self._changed(state, refresh)

    def update_rating(
        self, user_id: str, item_id: str, rating: float, *, at: float | None = None
    ) -> None:
        """Change a rating (the same as adding it again: the latest value counts)."""
        self.add_rating(user_id, item_id, rating, at=at)

    def delete_rating(self, user_id: str, item_id: str, *, refresh: bool = True) -> bool:
        """Forget the user's interaction with an item (its edge too); False if there was none."""
        item = self._item_index(item_id)
        user_id = str(user_id)
        state = self._states.get(user_id)
        if state is None:
            index = self._training_index(user_id)
            if index is None or item not in self.scorer.training_row(index)[0]:
                return False
            state = self._state(user_id)
        with state.lock:
            if item not in state.interactions:
                return False
            state.remove(item, str(item_id))
            self._changed(state, refresh)
        return True

    def add_item(self, item_id: str, item_row: Mapping[str, Any]) -> bool:
        """Add an item to the catalog (or update a known item's metadata).

        Returns whether the item can be recommended (see the module docstring).
        """
        item_id = str(item_id)
        row = {k: v for k, v in item_row.items() if k != "item_id"}
        with self._catalog_lock:
            index = self._item_map.get(item_id)
            if index is None:
                index = self._item_map.add(item_id)
                self._new_x.append(None)
                self._new_states.append(None)
            if index >= self._num_model_items:
                self._added[item_id] = row
                self._set_new_item(index - self._num_model_items, self._encode_item(item_id, row))
            else:  # a trained item's new metadata: a model swap replays it over the catalog
                self._updated[item_id] = row
            self._catalog.append(index, row)
            self._catalog_tag = _digest(self._catalog_tag, item_id, row)
            return self._recommendable(index)

    def add_items(self, items: pd.DataFrame) -> int:
        """Add the rows of a canonical items table naming items the engine does not know, in
        one pass: one encoder call and one model call for all of them (one by one, the
        24K untrained items of a 100K-item shop took minutes). Returns how many were added.
        """
        with self._catalog_lock:
            ids = items["item_id"].astype(str)
            rows = items[~ids.map(self._item_map.__contains__).to_numpy(dtype=bool)]
            rows = rows.drop_duplicates("item_id").reset_index(drop=True)
            if rows.empty:
                return 0
            new_ids = rows["item_id"].astype(str).tolist()
            indices = np.array([self._item_map.add(i) for i in new_ids], dtype=np.int64)
            x = self._encode_items(rows, new_ids)
            states = None if x is None else self.scorer.embed_new_items(x)
            for position, (item_id, row) in enumerate(
                zip(new_ids, rows.drop(columns="item_id").to_dict("records"), strict=True)
            ):
                self._added[item_id] = row
                self._new_x.append(None if x is None else x[position : position + 1])
                self._new_states.append(None if states is None else states[position])
            self._scored_stale = True
            self._catalog.extend(indices, rows)
            self._catalog_tag = _digest(self._catalog_tag, new_ids)
            return len(new_ids)

    def set_catalog(self, items: pd.DataFrame) -> int:
        """Use ``items`` (canonical items table, optional ``in_stock``) for filters.

        Returns the number of rows naming items the engine does not know; they are left out
        (add them with :meth:`add_item` to serve them). Items added earlier and absent from
        the table keep the metadata they were added with.
        """
        with self._catalog_lock:
            catalog, unknown, described = Catalog.from_frame(items, self._item_map)
            for item_id, row in self._added.items():
                index = self._item_map.index(item_id)
                if index not in described:
                    catalog.append(index, row)
            self._catalog, self._catalog_frame = catalog, items.copy()
            hashed = pd.util.hash_pandas_object(items.astype("string"), index=False).to_numpy()
            self._catalog_tag = _digest(hashlib.sha1(hashed.tobytes()).hexdigest())
        with self._counts_lock:
            self._counts["catalog_unknown_items"] = unknown
        if unknown:
            log.warning("catalog: %d row(s) name items the engine does not know", unknown)
        return unknown

    # ------------------------------------------------------------------------- model swaps

    def live_log(self) -> LiveLog:
        """What to replay on a new model version (see :class:`LiveLog`)."""
        with self._catalog_lock:
            catalog = self._catalog_frame
            changes = [*self._added.items(), *self._updated.items()]
            items = [(item_id, dict(row)) for item_id, row in changes]
        users = []
        for state in self._states:
            with state.lock:
                demographics = None if state.demographics is None else dict(state.demographics)
                users.append((state.external_id, demographics, list(state.changes.items())))
        return LiveLog(catalog, items, users)

    def replay(self, live: LiveLog) -> int:
        """Apply another engine's :meth:`live_log` here; returns the changes applied.

        Changes naming items this model does not know are skipped, counted in
        ``stats()["replay_skipped"]`` and logged. Scores are recomputed lazily.
        """
        if live.catalog is not None:
            self.set_catalog(live.catalog)
        for item_id, row in live.items:
            self.add_item(item_id, row)
        applied = skipped = 0
        for user_id, demographics, changes in live.users:
            if demographics is not None:
                self.register_user(user_id, demographics)
            for item_id, interaction in changes:
                if item_id not in self._item_map:
                    skipped += 1
                elif interaction is None:
                    self.delete_rating(user_id, item_id, refresh=False)
                    applied += 1
                else:
                    rating = None if math.isnan(interaction.rating) else interaction.rating
                    self.add_rating(
                        user_id,
                        item_id,
                        rating,
                        event=interaction.event,
                        at=interaction.at,
                        refresh=False,
                    )
                    applied += 1
        if skipped:
            self._count("replay_skipped", skipped)
            log.warning("replay on %s: %d change(s) name unknown items", self.version, skipped)
        return applied

    def warm(self, batch: int = WARM_BATCH) -> dict[str, int]:
        """Compute ahead the score rows answers will need, ``batch`` users per model call.

        Live users' rows (folded in after a replay) up to ``max_score_rows``, then training
        users' trained rows up to the ``score_cache_mb`` budget: a fresh engine's first
        answers then need no model call, and one call scores many users for the price of a
        few. Safe while serving: a row computed from a state that changed meanwhile is
        dropped.
        """
        pending = [s for s in self._states if s.row is None][: self.max_score_rows]
        folded = 0
        for start in range(0, len(pending), batch):
            requests = []
            for state in pending[start : start + batch]:
                with state.lock:
                    request = self.scorer.fold_in_request(state)
                    if request is not None:
                        requests.append((state, state.generation, request))
            if not requests:
                continue
            rows = self.scorer.fold_in([request for _, _, request in requests])
            for (state, generation, _), (scores, evidence, user_state) in zip(
                requests, rows, strict=True
            ):
                with state.lock:
                    if state.generation == generation and state.row is None:
                        row = ScoreRow(generation, scores, "fold_in", evidence, user_state)
                        self._states.keep_row(state, row)
                        folded += 1
        return {"folded_in": folded, "trained": self.scorer.warm_trained(batch)}

    def drop_cached(self) -> None:
        """Drop this version's cached answers (called when the version is retired)."""
        try:
            self.cache.drop_version(self.version)
        except Exception:  # a cache outage must never break serving
            log.exception("cache: cannot drop version %s", self.version)
            self._count("cache_errors")

    # ----------------------------------------------------------------------------- helpers

    def _view(self, user_id: str, state: UserState | None) -> _UserView:
        if state is None:
            index = self._training_index(user_id)
            if index is None:
                empty = np.empty(0, dtype=np.int64)
                return _UserView(
                    self.scorer.popularity_row(), (empty, [], np.empty(0)), (empty, np.empty(0))
                )
            items, ratings = self.scorer.training_row(index)
            return _UserView(self.scorer.known_row(index), _training_seen(items), (items, ratings))
        with state.lock:
            row = state.row
            if row is None or row.generation != state.generation:
                row = self.scorer.row(state)
                self._states.keep_row(state, row)
            return _UserView(row, state.seen(), state.history())

    def _excluded(self, seen: tuple[np.ndarray, list[str], np.ndarray]) -> np.ndarray:
        """The seen items the exclusion policy keeps out of the answer."""
        items, events, at = seen
        return items[self.exclusion_policy.excluded(events, at, self.clock())]

    def _indexed(
        self,
        user_id: str,
        state: UserState | None,
        n: int,
        exclude_rated: bool,
        mask: Tensor | None,
    ) -> tuple[_UserView, np.ndarray, np.ndarray] | None:
        """The answer through the bundle's item index: a training user the engine holds no
        live state for (so their trained factors are current), and no item added since
        training (the index does not hold those). None: rank the full row instead."""
        index = self.bundle.index
        if index is None or state is not None or self._new_x:
            return None
        user = self._training_index(user_id)
        factors = self.bundle.model.dot_factors()
        if user is None or factors is None:
            return None
        items, ratings = self.scorer.training_row(user)
        seen = _training_seen(items)
        excluded = self._excluded(seen) if exclude_rated else np.empty(0, dtype=np.int64)
        exclude = sp.csr_matrix(
            (np.ones(excluded.size), excluded, [0, excluded.size]), shape=(1, index.num_items)
        )
        allowed = None if mask is None else mask[: index.num_items]
        found, scores = index.top_k(
            factors[0][user : user + 1], n, exclude=exclude, allowed=allowed
        )
        kept = found[0] >= 0
        row = ScoreRow(0, torch.empty(0), "personalized", float(items.size))
        view = _UserView(row, seen, (items, ratings))
        return view, found[0][kept].numpy(), scores[0][kept].numpy()

    def _full_row(self, row: ScoreRow) -> Tensor:
        """Scores over every engine item: the model's items, then the added ones."""
        with self._catalog_lock:
            added, scored = len(self._new_x), self._new_item_states()
        if not added:
            return row.scores
        extra = torch.full((added,), -torch.inf)
        if scored is not None:
            columns, states = scored
            values = self.scorer.score_new_items(row, states)
            if values is not None:
                extra[columns] = values
        return torch.cat([row.scores, extra])

    def _set_new_item(self, position: int, x: Tensor | None) -> None:
        """Keep a new item's features and state (catalog lock held)."""
        self._new_x[position] = x
        self._new_states[position] = None if x is None else self.scorer.embed_new_item(x)
        self._scored_stale = True

    def _new_item_states(self) -> tuple[Tensor, Tensor] | None:
        """Positions among the new items and stacked states of those the model scores, so
        answers read them in one piece; restacked on the first answer after a change, not
        on every ``add_item`` (catalog lock held)."""
        if self._scored_stale:
            ready = [(i, state) for i, state in enumerate(self._new_states) if state is not None]
            self._scored_new = (
                (torch.tensor([i for i, _ in ready]), torch.stack([state for _, state in ready]))
                if ready
                else None
            )
            self._scored_stale = False
        return self._scored_new

    def _reasons(
        self, history: tuple[np.ndarray, np.ndarray], targets: Tensor, top: int
    ) -> dict[int, tuple[Explanation, ...]]:
        """Per target item, the ``top`` history items with the largest positive weight to it."""
        items, ratings = history
        model_targets = targets[targets < self._num_model_items]
        if items.size == 0 or model_targets.numel() == 0 or top < 1:
            return {}
        weights = self.relations.weights(torch.from_numpy(items.astype(np.int64)), model_targets)
        reasons: dict[int, tuple[Explanation, ...]] = {}
        for column, target in enumerate(model_targets.tolist()):
            values = weights[:, column].clone()
            values[torch.from_numpy(items == target)] = -torch.inf
            best_weights, best = torch.topk(values, min(top, values.numel()))
            reasons[target] = tuple(
                Explanation(
                    self._item_map.external(int(items[b])),
                    w,
                    None if math.isnan(ratings[b]) else float(ratings[b]),
                    self.relations.method,
                )
                for b, w in zip(best.tolist(), best_weights.tolist(), strict=True)
                if w > 0
            )
        return reasons

    def _similar_by_features(self, item: int, n: int) -> tuple[Tensor, Tensor]:
        """Trained items nearest a new item: by its state when the model compares items by
        embeddings, else by its encoded features."""
        with self._catalog_lock:
            x = self._new_x[item - self._num_model_items]
            state = self._new_states[item - self._num_model_items]
        vectors = self.bundle.model.item_vectors() if state is not None else None
        if state is not None and vectors is not None and self.relations.method == EMBEDDING_COSINE:
            trained, x = vectors.detach().float(), state[None, :]
        else:
            trained = self.bundle.data.item_x.float()
        if x is None or trained.shape[1] == 0:
            return torch.empty(0, dtype=torch.long), torch.empty(0)
        cosine = torch.nn.functional.cosine_similarity(trained, x, dim=1)
        weights, items = torch.topk(cosine, min(n, cosine.numel()))
        return items, weights

    def _encode_item(self, item_id: str, row: Mapping[str, Any]) -> Tensor | None:
        """Features of a new item, or None when they cannot be made like the training ones."""
        dim = int(self.bundle.data.item_x.shape[1])
        if self.item_encoder is None:
            return torch.zeros(1, 0) if dim == 0 else None
        frame = pd.DataFrame([{**row, "item_id": item_id}])
        return torch.from_numpy(self.item_encoder.transform(frame, [item_id]))

    def _encode_items(self, rows: pd.DataFrame, item_ids: list[str]) -> Tensor | None:
        """Features of many new items (see :meth:`_encode_item`)."""
        dim = int(self.bundle.data.item_x.shape[1])
        if self.item_encoder is None:
            return torch.zeros(len(item_ids), 0) if dim == 0 else None
        return torch.from_numpy(self.item_encoder.transform(rows, item_ids))

    @property
    def _scores_new_items(self) -> bool:
        return self.scorer.new_items

    def _recommendable(self, index: int) -> bool:
        if index < self._num_model_items:
            return True
        return self._new_states[index - self._num_model_items] is not None

    def _changed(self, state: UserState, refresh: bool) -> None:
        """After a change (state lock held): new generation, fresh row, no stale answers."""
        state.bump()
        if refresh:
            self._states.keep_row(state, self.scorer.row(state))
        self._cache_call("drop_user", state.external_id)

    def _state(self, user_id: str) -> UserState:
        known = self._states.get(user_id)
        if known is not None:  # the training history is built once per user, not per change
            return known
        index = self._training_index(user_id)
        base = None if index is None else training_interactions(*self.scorer.training_row(index))
        return self._states.get_or_create(user_id, index, base)

    def _training_index(self, user_id: str) -> int | None:
        index = self.bundle.user_map.get(user_id)
        return index if index is not None and index < self.scorer.num_users else None

    def _item_index(self, item_id: str) -> int:
        index = self._item_map.get(str(item_id))
        if index is None:
            raise UnknownIdError(f"unknown item id {str(item_id)!r}", column="item_id")
        return index

    def _known_items(self, item_ids: Iterable[str]) -> list[int]:
        indices = (self._item_map.get(i) for i in item_ids)
        return [i for i in indices if i is not None]

    def _confidence(self, row: ScoreRow) -> float:
        return row.evidence / (row.evidence + self.confidence_half)

    def _cache_call(self, method: str, user_id: str, *args: Any) -> Any:
        try:
            return getattr(self.cache, method)(self.version, user_id, *args)
        except Exception:  # a cache outage must never break serving
            log.exception("cache: %s failed for user %r", method, user_id)
            self._count("cache_errors")
            return None

    def _count(self, name: str, amount: int = 1) -> None:
        with self._counts_lock:
            self._counts[name] += amount


def _training_seen(items: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
    """A training user's seen items as the exclusion policy reads them: rated, time unknown."""
    return items.astype(np.int64), [RATING_EVENT] * items.size, np.full(items.size, np.nan)


def _load_encoder(kind: type[Any], folder: Path | None, stem: str) -> Any:
    """The bundle's fitted encoder, or None when the bundle has none."""
    if folder is None or not (Path(folder) / f"{stem}_encoder.json").is_file():
        return None
    return kind.load(folder)


def _digest(*parts: Any) -> str:
    return hashlib.sha1(json.dumps(parts, default=str).encode()).hexdigest()[:16]
