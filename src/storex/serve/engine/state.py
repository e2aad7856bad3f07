"""Live per-user state: what a user did since the bundle was trained, on top of training.

A user gets a :class:`UserState` the first time they are registered or rate something; users
who never do keep being served straight from the bundle. The state holds the user's current
interactions by item index (training positives first, then live changes replacing them) and
the log of live changes by external item id, which is what a new model version replays.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from torch import Tensor

from storex.serve.engine.policy import RATING_EVENT


@dataclass(frozen=True)
class Interaction:
    """The latest interaction of a user with an item.

    ``rating`` and ``at`` (epoch seconds) are NaN when unknown (training edges carry no time);
    ``positive`` says whether it is an edge the model folds in (never for items the model
    was not trained on).
    """

    rating: float
    event: str
    at: float
    positive: bool


@dataclass(frozen=True)
class ScoreRow:
    """Scores of every model item for a user, and how they were made.

    ``user_state`` is the user's state the scores came from when the model scores new items
    (:meth:`~storex.models.base.Recommender.score_new_items`), else None.
    """

    generation: int
    scores: Tensor
    strategy: str
    evidence: float
    user_state: Tensor | None = None


class UserState:
    """One user's live state; callers hold :attr:`lock` while reading or changing it."""

    def __init__(
        self, external_id: str, index: int | None, base: dict[int, Interaction] | None = None
    ) -> None:
        self.external_id = external_id
        self.index = index
        self.demographics: dict[str, Any] | None = None
        self.interactions: dict[int, Interaction] = dict(base or {})
        self.changes: dict[str, Interaction | None] = {}
        self.history_changed = False
        self.generation = 1  # 0 is the generation of users without live state
        self.row: ScoreRow | None = None
        self.lock = threading.RLock()
        self._arrays: dict[str, Any] = {}  # positives, seen, history until the next change

    def set(self, item: int, external_item: str, interaction: Interaction) -> bool:
        """Record an interaction; True when the user's positive edges changed."""
        self._arrays.clear()
        before = self.interactions.get(item)
        self.interactions[item] = interaction
        self.changes[external_item] = interaction
        return self._touched(before is not None and before.positive, interaction.positive)

    def remove(self, item: int, external_item: str) -> bool:
        """Forget an interaction; True when the user's positive edges changed."""
        self._arrays.clear()
        before = self.interactions.pop(item, None)
        self.changes[external_item] = None
        return self._touched(before is not None and before.positive, False)

    def bump(self) -> None:
        """Invalidate what was computed from the old state (score row, cache keys)."""
        self.generation += 1
        self.row = None

    def positives(self) -> np.ndarray:
        """Item indices of the user's positive edges, ascending (not to be changed)."""
        if "positives" not in self._arrays:
            items = sorted(i for i, x in self.interactions.items() if x.positive)
            self._arrays["positives"] = np.array(items, dtype=np.int64)
        return self._arrays["positives"]

    def history(self) -> tuple[np.ndarray, np.ndarray]:
        """The positive items (as :meth:`positives`) and their ratings (NaN: implicit)."""
        if "history" not in self._arrays:
            positives = self.positives()
            ratings = [self.interactions[i].rating for i in positives.tolist()]
            self._arrays["history"] = (positives, np.array(ratings, dtype=float))
        return self._arrays["history"]

    def seen(self) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Item indices, event types and times of every interaction (for exclusion)."""
        if "seen" not in self._arrays:
            count = len(self.interactions)
            items = np.fromiter(self.interactions.keys(), dtype=np.int64, count=count)
            values = list(self.interactions.values())
            times = np.array([x.at for x in values], dtype=float)
            self._arrays["seen"] = (items, [x.event for x in values], times)
        return self._arrays["seen"]

    def ratings_frame(self) -> pd.DataFrame:
        """The interactions as the user encoder reads them (one row each, with ratings)."""
        ratings = [x.rating for x in self.interactions.values()]
        return pd.DataFrame(
            {"user_id": [self.external_id] * len(ratings), "rating": np.array(ratings, float)}
        )

    def _touched(self, was_positive: bool, is_positive: bool) -> bool:
        changed = was_positive or is_positive
        self.history_changed |= changed
        return changed


def training_interactions(items: np.ndarray, ratings: np.ndarray) -> dict[int, Interaction]:
    """A training user's positives as interactions (no time, event ``rating``)."""
    return {
        int(item): Interaction(float(rating), RATING_EVENT, math.nan, True)
        for item, rating in zip(items, ratings, strict=True)
    }


class UserStates:
    """All live user states, plus a bound on how many keep a computed score row.

    Score rows cost ``num_items`` floats each; the least recently used ones beyond
    ``max_rows`` are dropped and recomputed when needed.
    """

    def __init__(self, max_rows: int = 1024) -> None:
        if max_rows < 0:
            raise ValueError(f"max_rows must be >= 0, got {max_rows}")
        self.max_rows = max_rows
        self._states: dict[str, UserState] = {}
        self._with_rows: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, external_id: str) -> UserState | None:
        with self._lock:
            return self._states.get(external_id)

    def get_or_create(
        self, external_id: str, index: int | None, base: dict[int, Interaction] | None
    ) -> UserState:
        with self._lock:
            state = self._states.get(external_id)
            if state is None:
                state = self._states[external_id] = UserState(external_id, index, base)
            return state

    def keep_row(self, state: UserState, row: ScoreRow) -> None:
        """Store ``row`` on ``state`` (caller holds its lock), evicting the oldest rows."""
        state.row = row
        with self._lock:
            self._with_rows[state.external_id] = None
            self._with_rows.move_to_end(state.external_id)
            while len(self._with_rows) > self.max_rows:
                oldest, _ = self._with_rows.popitem(last=False)
                self._states[oldest].row = None

    def __iter__(self) -> Iterator[UserState]:
        with self._lock:
            return iter(list(self._states.values()))

    def __len__(self) -> int:
        with self._lock:
            return len(self._states)
