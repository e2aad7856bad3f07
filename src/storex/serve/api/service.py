"""The running service: database sessions, the engine in service and the model registry.

On start the schema is migrated, the current bundle is loaded, the engine gets the catalog
from the items table, and every stored change the bundle does not know (users registered
and ratings given after training) is replayed into it, so live state survives restarts.
Without a bundle the service still runs; recommendations then come from the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from storex.bundle import ModelBundle
from storex.serve.api.errors import ModelUnavailableError
from storex.serve.api.metrics import Metrics
from storex.serve.api.queries import catalog_frame, iter_ratings, users_with_profile
from storex.serve.api.settings import ServeSettings
from storex.serve.db import (
    Item,
    User,
    get_item_by_external,
    make_engine,
    make_session_factory,
    upgrade_database,
)
from storex.serve.engine import (
    EngineHolder,
    LRUCache,
    ModelRegistry,
    RecommendationCache,
    RecommendationEngine,
    RedisCache,
    UnknownIdError,
)

log = logging.getLogger(__name__)
PROFILE = ("age", "gender", "occupation", "zip")


class Service:
    """What every request works with; one per application."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.db = make_engine(settings.database_url)
        self.sessions = make_session_factory(self.db)
        self.registry = ModelRegistry(settings.models_dir, settings.model_name)
        self.metrics = Metrics()
        self.holder: EngineHolder | None = None
        self.replayed: dict[str, int] = {}
        self._cache: RecommendationCache | None = None
        self._synced: set[str] = set()
        self._sync_lock = threading.Lock()
        self._model_lock = threading.Lock()

    # ------------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Migrate the database and load the current model (if any)."""
        upgrade_database(self.db)
        with self._model_lock:
            self._load_current()

    def close(self) -> None:
        self.db.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    # ---------------------------------------------------------------------------- models

    def require_holder(self) -> EngineHolder:
        holder = self.holder
        if holder is None:
            raise ModelUnavailableError(
                f"no model is loaded (none published under {self.settings.models_dir}); "
                "train one and POST /api/model/reload"
            )
        return holder

    def model_name(self) -> str | None:
        """The registry name served: the configured one, the only one, or the newest."""
        if self.settings.model_name:
            return self.settings.model_name
        names = self.registry.names()
        if not names:
            return None
        return max(names, key=lambda name: self.registry.versions(name)[-1])

    def current_version(self) -> tuple[str, str] | None:
        """(name, version) the registry points at; the newest version when none is pointed."""
        name = self.model_name()
        if name is None:
            return None
        version = self.registry.current(name)
        versions = self.registry.versions(name)
        if version is None and versions:
            version = versions[-1]
        return None if version is None else (name, version)

    def reload(self) -> dict[str, Any]:
        """Serve the registry's current version (hot swap; a first load when none is served)."""
        with self._model_lock:
            before = None if self.holder is None else self.holder.version
            target = self.current_version()
            if target is None:
                raise ModelUnavailableError(f"no model published under {self.settings.models_dir}")
            if self.holder is None:
                self._load_current()
            elif target[1] != self.holder.version:
                self.holder.swap(ModelBundle.load(self.registry.path(target[1], target[0])))
            after = self.require_holder().version
        return {"previous": before, "version": after, "swapped": before != after}

    def rollback(self) -> dict[str, Any]:
        """Point the registry at the version before the current one and serve it."""
        self.require_holder()
        name = self.model_name()
        self.registry.rollback(name)
        return self.reload()

    def _load_current(self) -> None:
        target = self.current_version()
        if target is None:
            log.warning("no model under %s: serving popularity", self.settings.models_dir)
            return
        bundle = ModelBundle.load(self.registry.path(target[1], target[0]))
        engine = RecommendationEngine(bundle, cache=self._make_cache())
        self.replayed = self._prime(engine)
        self.holder = EngineHolder(engine)
        log.info("serving %s version %s (%s)", target[0], engine.version, self.replayed)

    def _make_cache(self) -> RecommendationCache:
        if self._cache is None:
            settings = self.settings
            if settings.redis_url:
                self._cache = RedisCache.from_url(
                    settings.redis_url, ttl_seconds=settings.cache_ttl_seconds
                )
            else:
                self._cache = LRUCache(settings.cache_entries, settings.cache_ttl_seconds)
        return self._cache

    def _prime(self, engine: RecommendationEngine) -> dict[str, int]:
        """Give a fresh engine the catalog and every stored change its bundle does not know."""
        bundle = engine.bundle
        counts = {"items_added": 0, "users_registered": 0, "ratings_replayed": 0}
        train = bundle.data.train.numpy().astype(np.int64)
        known = set((train[0] * bundle.data.num_items + train[1]).tolist())
        with self.session() as session:
            catalog = catalog_frame(session)
            engine.set_catalog(catalog)
            for row in catalog.to_dict("records"):
                if row["item_id"] not in bundle.item_map:
                    engine.add_item(row["item_id"], _item_row(row))
                    counts["items_added"] += 1
            for user in users_with_profile(session):
                if user.external_id not in bundle.user_map:
                    engine.register_user(user.external_id, profile(user))
                    self._synced.add(user.external_id)
                    counts["users_registered"] += 1
            for r in iter_ratings(session):
                u, i = bundle.user_map.get(r.user), bundle.item_map.get(r.item)
                if u is not None and i is not None and u * bundle.data.num_items + i in known:
                    continue
                engine.add_rating(
                    r.user, r.item, r.rating, event=r.event, at=r.at.timestamp(), refresh=False
                )
                if u is None:
                    self._synced.add(r.user)
                counts["ratings_replayed"] += 1
        return counts

    # ------------------------------------------------------------------------ live state

    def ensure_user(self, session: Session, user: User) -> None:
        """Make a stored user the bundle does not know known to the engine, with history."""
        holder = self.holder
        ext = user.external_id
        if holder is None or ext in holder.engine.bundle.user_map or ext in self._synced:
            return
        with self._sync_lock:
            if ext in self._synced:
                return
            demographics = profile(user)
            if demographics:
                holder.register_user(ext, demographics)
            for r in iter_ratings(session, user.id):
                self._add(session, r.user, r.item, r.rating, r.event, r.at.timestamp())
            self._synced.add(ext)

    def mark_synced(self, external_id: str) -> None:
        """Note that the engine knows a user registered through the API."""
        with self._sync_lock:
            self._synced.add(external_id)

    def rating_added(
        self, session: Session, user: User, item: Item, rating: float, event: str, at: float
    ) -> None:
        """Tell the engine about a stored rating (after commit)."""
        if self.holder is None:
            return
        self.ensure_user(session, user)
        self._add(session, user.external_id, item.external_id, rating, event, at)

    def rating_deleted(self, session: Session, user: User, item: Item) -> None:
        holder = self.holder
        if holder is None:
            return
        self.ensure_user(session, user)
        with suppress(UnknownIdError):  # an item the engine never had: nothing to forget
            holder.delete_rating(user.external_id, item.external_id)

    def _add(
        self, session: Session, user: str, item: str, rating: float, event: str, at: float
    ) -> None:
        holder = self.require_holder()
        try:
            holder.add_rating(user, item, rating, event=event, at=at)
        except UnknownIdError:
            # An item stored after the engine was primed: add it to the catalog first.
            row = get_item_by_external(session, item)
            if row is None:
                raise
            holder.add_item(item, _item_row(_item_record(row)))
            holder.add_rating(user, item, rating, event=event, at=at)


def profile(user: User) -> dict[str, Any]:
    """A user's demographics that are set, as the engine takes them."""
    values = {name: getattr(user, name) for name in PROFILE}
    return {k: v for k, v in values.items() if v is not None}


def _item_record(item: Item) -> dict[str, Any]:
    return {
        "item_id": item.external_id,
        "title": item.title,
        "categories": list(item.categories or []),
        "brand": item.brand,
        "price": item.price,
        "year": item.year,
        "in_stock": item.in_stock,
    }


def _item_row(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "item_id"}
