"""The running service: database sessions, the engine in service and the model registry.

On start the schema is migrated, an empty database is filled from the served bundle's data
set (``serve.seed_database``), the current bundle is loaded, the engine gets the catalog
from the items table, and every stored change the bundle does not know (users registered
and ratings given after training) is replayed into it, so live state survives restarts.
Without a bundle the service still runs; recommendations then come from the database.
The session model (``serve.session_model_dir``) is loaded beside the bundle; one that cannot
be loaded leaves the rest of the service running and its routes answering 503 with the
reason (:class:`SessionModelUnavailable`).

Reads run in read-only sessions (on SQLite they take no lock); writes in read-write ones.
Every user stored when the engine was primed, and every user found in the database and made
known to the engine since, is *ready*: their recommendations need no database work at all
(a user deleted from the database behind the service's back is answered until the next
start). Items are described from the catalog the engine was given
(:class:`~storex.serve.api.cards.ItemCards`), the same data its filters use.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from storex.bundle import ModelBundle
from storex.config import Settings
from storex.errors import StorexError
from storex.serve.api.cards import Card, ItemCards
from storex.serve.api.errors import ModelUnavailableError
from storex.serve.api.lookup import find_user
from storex.serve.api.metrics import Metrics
from storex.serve.db import (
    Item,
    User,
    catalog_frame,
    get_item_by_external,
    get_rating,
    get_user_by_external,
    is_in_memory,
    items_by_external,
    iter_ratings,
    iter_user_ids,
    make_engine,
    make_session_factory,
    rating_id_of,
    upgrade_database,
    users_with_profile,
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
from storex.serve.live import LiveUpdate, LiveUpdates
from storex.serve.seed import seed_database
from storex.sessions.engine import SessionEngine, SessionRecommendations

log = logging.getLogger(__name__)
PROFILE = ("age", "gender", "occupation", "zip")


class Service:
    """What every request works with; one per application."""

    def __init__(self, settings: Settings, *, freeze_heap: bool = False) -> None:
        self.settings = settings
        self.freeze_heap = freeze_heap
        url = settings.serve.database_url
        self.db = make_engine(url)
        self.read_db = self.db if is_in_memory(url) else make_engine(url, read_only=True)
        self.sessions = make_session_factory(self.db)
        self.read_sessions = make_session_factory(self.read_db)
        self.registry = ModelRegistry(settings.models_dir, settings.serve.model_name)
        self.metrics = Metrics()
        self.cards = ItemCards()
        self.holder: EngineHolder | None = None
        self.replayed: dict[str, int] = {}
        self.seeded: dict[str, Any] | None = None
        self.session_recommender: SessionEngine | SessionModelUnavailable | None = None
        serve = settings.serve
        self.live = (
            LiveUpdates.from_url(serve.redis_url, f"{serve.redis_prefix}:live")
            if serve.redis_url
            else None
        )
        self._cache: RecommendationCache | None = None
        self._synced: set[str] = set()
        self._ready: set[str] = set()
        self._sync_lock = threading.Lock()
        self._model_lock = threading.Lock()

    # ------------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Migrate the database, fill it if empty, and load the current model (if any)."""
        if self.freeze_heap:
            gc.disable()  # loading makes objects by the million; collect once, at the end
        try:
            upgrade_database(self.db)
            if self.live is not None:  # before the engine reads the database: nothing missed
                self.live.listen(self.apply)
            with self._model_lock:
                target = self.current_version()
                bundle = None if target is None else self._load_bundle(*target)
                if bundle is not None and self.settings.serve.seed_database:
                    self.seeded = seed_database(self.db, bundle, self.settings.data_dir)
                self._serve(bundle)
            self.session_recommender = self._load_session_model()
        finally:
            if self.freeze_heap:
                gc.enable()
        self._settle_heap()
        if self.live is not None:
            self.live.ready()

    def prepare_database(self) -> None:
        """Migrate the database and fill it if empty, as :meth:`start` does, without building
        an engine: the parent of several server processes does it once, so that they do not
        all race to fill the same empty database."""
        upgrade_database(self.db)
        target = self.current_version()
        if target is not None and self.settings.serve.seed_database:
            self.seeded = seed_database(self.db, self._load_bundle(*target), self.settings.data_dir)

    def close(self) -> None:
        if self.live is not None:
            self.live.close()
        self.db.dispose()
        self.read_db.dispose()

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only session: it sees committed data and never waits for writers."""
        with self.read_sessions() as session:
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
        if self.settings.serve.model_name:
            return self.settings.serve.model_name
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
                self._serve(self._load_bundle(*target))
            elif target[1] != self.holder.version:
                self.holder.swap(self._load_bundle(*target))
                self._ready.clear()  # users the old bundle knew may be new to this one
            after = self.require_holder().version
            if after != before:
                self._settle_heap()
        return {"previous": before, "version": after, "swapped": before != after}

    def rollback(self) -> dict[str, Any]:
        """Point the registry at the version before the current one and serve it."""
        self.require_holder()
        name = self.model_name()
        self.registry.rollback(name)
        return self.reload()

    def _settle_heap(self) -> None:
        """With ``freeze_heap``: collect once, then hide every surviving object from the
        garbage collector (:func:`gc.freeze`).

        The model, the catalog and the database machinery are hundreds of thousands of
        objects that live as long as their version is served; every full collection would
        walk them again, stopping all requests for hundreds of milliseconds. Unfreezing
        first lets a retired version's objects be collected. For a process serving one app
        (the server); tests leave it off.
        """
        if self.freeze_heap:
            gc.unfreeze()
            gc.collect()
            gc.freeze()

    def _load_bundle(self, name: str, version: str) -> ModelBundle:
        return ModelBundle.load(self.registry.path(version, name))

    def _serve(self, bundle: ModelBundle | None) -> None:
        if bundle is None:
            log.warning("no model under %s: serving popularity", self.settings.models_dir)
            return
        engine = RecommendationEngine(bundle, cache=self._make_cache())
        self.replayed = {**self._prime(engine), **engine.warm()}
        self.holder = EngineHolder(engine)
        log.info("serving %s version %s (%s)", bundle.model.name, engine.version, self.replayed)

    def _load_session_model(self) -> SessionEngine | SessionModelUnavailable | None:
        """The configured session model; a broken one is logged and refused, not fatal."""
        folder = self.settings.serve.session_model_dir
        if folder is None:
            log.info("no session model: session recommendations are off")
            return None
        backend = self.settings.serve.session_backend
        try:
            engine = SessionEngine.load(folder, backend=backend)
        except (StorexError, ImportError, OSError) as exc:  # ONNX Runtime may be missing
            problem = str(exc) if str(folder) in str(exc) else f"{folder}: {exc}"
            unavailable = SessionModelUnavailable(f"session model not loaded: {problem}")
            log.error("%s", unavailable.reason)
            return unavailable
        log.info("serving session model %s version %s (%s)", folder, engine.version, backend)
        return engine

    def _make_cache(self) -> RecommendationCache:
        if self._cache is None:
            serve = self.settings.serve
            if serve.redis_url:
                self._cache = RedisCache.from_url(
                    serve.redis_url,
                    prefix=f"{serve.redis_prefix}:recs",
                    ttl_seconds=serve.cache_ttl_seconds,
                )
            else:
                self._cache = LRUCache(serve.cache_entries, serve.cache_ttl_seconds)
        return self._cache

    def _prime(self, engine: RecommendationEngine) -> dict[str, int]:
        """Give a fresh engine the catalog and every stored change its bundle does not know."""
        bundle = engine.bundle
        counts = {"items_added": 0, "users_registered": 0, "ratings_replayed": 0}
        train = bundle.data.train.numpy().astype(np.int64)
        known = set((train[0] * bundle.data.num_items + train[1]).tolist())
        with self.read_session() as session:
            catalog = catalog_frame(session)
            counts["items_added"] = engine.add_items(catalog)
            engine.set_catalog(catalog)
            self.cards.fill(catalog)
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
            # Every stored user's profile and history is in the engine now: all are ready.
            self._ready.update(iter_user_ids(session))
        counts["users_ready"] = len(self._ready)
        return counts

    # ------------------------------------------------------------------------ live state

    def is_ready(self, external_id: str) -> bool:
        """Whether the user is stored and known to the engine (answers need no database)."""
        return external_id in self._ready

    def prepare_user(self, external_id: str) -> None:
        """Find a user in the database (404 if absent) and make the engine know them."""
        with self.read_session() as session:
            self.ensure_user(session, find_user(session, external_id))

    def ensure_user(self, session: Session, user: User) -> None:
        """Make a stored user the bundle does not know known to the engine, with history."""
        holder = self.holder
        ext = user.external_id
        if holder is None:
            return
        if ext not in holder.engine.bundle.user_map and ext not in self._synced:
            with self._sync_lock:
                if ext not in self._synced:
                    demographics = profile(user)
                    if demographics:
                        holder.register_user(ext, demographics)
                    for r in iter_ratings(session, user.id):
                        self._add(session, r.user, r.item, r.rating, r.event, r.at.timestamp())
                    self._synced.add(ext)
        self._ready.add(ext)

    def mark_synced(self, external_id: str) -> None:
        """Note that the engine knows a user registered through the API."""
        with self._sync_lock:
            self._synced.add(external_id)
        self._ready.add(external_id)

    def rating_added(self, user: User, item: Item, rating: float, event: str, at: float) -> None:
        """Tell the engine about a stored rating (after commit)."""
        if self.holder is None:
            return
        with self.read_session() as session:
            self.ensure_user(session, user)
            self._add(session, user.external_id, item.external_id, rating, event, at)

    def rating_deleted(self, user: User, item: Item) -> None:
        holder = self.holder
        if holder is None:
            return
        with self.read_session() as session:
            self.ensure_user(session, user)
        with suppress(UnknownIdError):  # an item the engine never had: nothing to forget
            holder.delete_rating(user.external_id, item.external_id)

    def item_stored(self, item: Item) -> bool:
        """Put a stored (committed) item in the catalog the answers use: the engine's and the
        cards. Returns whether recommendations can include it (the engine's answer; without
        a model they rank every stored item)."""
        self.cards.put(item)
        holder = self.holder
        if holder is None:
            return True
        return holder.add_item(item.external_id, _item_row(_item_record(item)))

    def announce(self, update: LiveUpdate) -> None:
        """Tell the service's other processes about a committed change (see
        :mod:`storex.serve.live`); nothing to do when this process is the only one."""
        if self.live is not None:
            self.live.publish(update)

    def apply(self, update: LiveUpdate) -> None:
        """Bring the engine up to date with a change another process committed: the rows
        it names are read again, so applying it twice changes nothing."""
        with self.read_session() as session:
            if update.kind == "item":
                item = get_item_by_external(session, str(update.item))
                if item is not None:
                    self.item_stored(item)
                return
            user = get_user_by_external(session, str(update.user))
            if user is None:
                return
            if update.kind == "user":
                if self.holder is not None:
                    self.ensure_user(session, user)
                return
            item = get_item_by_external(session, str(update.item))
            if item is None:
                return
            found = rating_id_of(session, user.id, item.id)
            rating = None if found is None else get_rating(session, found)
        if rating is None:
            self.rating_deleted(user, item)
        else:
            at = (rating.updated_at or rating.created_at).timestamp()
            self.rating_added(user, item, rating.rating, rating.event, at)

    def unknown_items(self, item_ids: Sequence[str]) -> list[str]:
        """The ``item_ids`` no stored item has (the database is asked about those the cards
        lack)."""
        missing = self.cards.missing(item_ids)
        if missing:
            self.describe(missing)
            missing = self.cards.missing(missing)
        return missing

    def describe(self, item_ids: Sequence[str]) -> dict[str, Card]:
        """Cards of ``item_ids``; items outside the engine's catalog are read from the database."""
        missing = self.cards.missing(item_ids)
        if missing:
            with self.read_session() as session:
                for item in items_by_external(session, missing).values():
                    self.cards.put(item)
        return self.cards.pick(item_ids)

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
            self.item_stored(row)
            holder.add_rating(user, item, rating, event=event, at=at)


class SessionModelUnavailable:
    """Stands in for a session model that failed to load: every call is refused with the
    reason, so POST /recommend answers 503 naming the folder instead of a generic message."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def recommend(self, *args: Any, **kwargs: Any) -> SessionRecommendations:
        raise ModelUnavailableError(self.reason)

    def recommend_batch(self, *args: Any, **kwargs: Any) -> list[SessionRecommendations]:
        raise ModelUnavailableError(self.reason)


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
