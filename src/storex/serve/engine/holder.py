"""Hot swap: the engine in service is replaced by a new model version without a restart.

The new engine is built beside the old one while the old keeps serving. Then, under the
write lock, the old engine's live changes (ratings, users, items, catalog) are replayed
into the new one and the reference is switched; then the new engine computes ahead the
score rows its answers need. A request holds the engine it started on,
so requests in flight finish on the old version; the old version's cached answers are
dropped, and new cache keys carry the new version.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from storex.bundle import ModelBundle
from storex.serve.engine.engine import RecommendationEngine
from storex.serve.engine.registry import ModelRegistry
from storex.serve.engine.results import Explanation, Recommendations, ScoredItem

log = logging.getLogger(__name__)
EngineFactory = Callable[[ModelBundle, RecommendationEngine], RecommendationEngine]


def same_settings(bundle: ModelBundle, old: RecommendationEngine) -> RecommendationEngine:
    """A new engine for ``bundle`` with the old engine's cache, policy and options."""
    return RecommendationEngine(
        bundle,
        cache=old.cache,
        exclusion_policy=old.exclusion_policy,
        positive_threshold=old.positive_threshold,
        confidence_half=old.confidence_half,
        max_score_rows=old.max_score_rows,
        score_cache_mb=old.score_cache_mb,
        clock=old.clock,
    )


class EngineHolder:
    """Serves through the current engine; :meth:`swap` replaces it atomically.

    Reads go to whichever engine is current when they start. Writes take a lock that
    :meth:`swap` also takes while replaying, so no change is lost between the replay and
    the switch.
    """

    def __init__(
        self, engine: RecommendationEngine, *, factory: EngineFactory = same_settings
    ) -> None:
        self._engine = engine
        self._factory = factory
        self._write = threading.RLock()
        self._swap = threading.Lock()

    @property
    def engine(self) -> RecommendationEngine:
        return self._engine

    @property
    def version(self) -> str:
        return self._engine.version

    def swap(self, bundle: ModelBundle) -> RecommendationEngine:
        """Serve ``bundle`` from now on; returns the retired engine."""
        with self._swap:
            new = self._factory(bundle, self._engine)
            with self._write:
                old = self._engine
                applied = new.replay(old.live_log())
                self._engine = new
            new.warm()  # outside the lock: writes go on, and a row made stale is dropped
            old.drop_cached()
        log.info(
            "swapped model %s -> %s (%d live change(s) replayed)", old.version, new.version, applied
        )
        return old

    def swap_to_current(self, registry: ModelRegistry, name: str | None = None) -> bool:
        """Swap to the registry's current version if it is not the one in service."""
        current = registry.current(name)
        if current is None or current == self._engine.version:
            return False
        self.swap(registry.load_current(name))
        return True

    # Reads: on the engine current at the start of the call.

    def recommend(self, user_id: str, n: int = 10, **options: Any) -> Recommendations:
        return self._engine.recommend(user_id, n, **options)

    def predict(self, user_id: str, item_id: str) -> float:
        return self._engine.predict(user_id, item_id)

    def predict_batch(self, user_id: str, item_ids: Sequence[str]) -> list[float]:
        return self._engine.predict_batch(user_id, item_ids)

    def explain(self, user_id: str, item_id: str, top: int = 3) -> list[Explanation]:
        return self._engine.explain(user_id, item_id, top)

    def similar_items(self, item_id: str, n: int = 10) -> list[ScoredItem]:
        return self._engine.similar_items(item_id, n)

    def stats(self) -> dict[str, Any]:
        return self._engine.stats()

    # Writes: serialised with swaps.

    def register_user(self, user_id: str, demographics: Mapping[str, Any] | None = None) -> None:
        with self._write:
            self._engine.register_user(user_id, demographics)

    def add_rating(self, user_id: str, item_id: str, rating: float | None, **options: Any) -> None:
        with self._write:
            self._engine.add_rating(user_id, item_id, rating, **options)

    def update_rating(self, user_id: str, item_id: str, rating: float, **options: Any) -> None:
        with self._write:
            self._engine.update_rating(user_id, item_id, rating, **options)

    def delete_rating(self, user_id: str, item_id: str) -> bool:
        with self._write:
            return self._engine.delete_rating(user_id, item_id)

    def add_item(self, item_id: str, item_row: Mapping[str, Any]) -> bool:
        with self._write:
            return self._engine.add_item(item_id, item_row)

    def set_catalog(self, items: pd.DataFrame) -> int:
        with self._write:
            return self._engine.set_catalog(items)
