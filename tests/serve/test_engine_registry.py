"""Model versions on disk and hot swaps of the engine under concurrent requests."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from storex.errors import ConfigError, MissingDataError, ModelError
from storex.models.baselines import EASE, ItemKNN
from storex.serve.engine import EngineHolder, LRUCache, ModelRegistry, RecommendationEngine
from tests.serve.test_engine import MUSIC, catalog, make_bundle

VERSIONS = ["20250101T000000Z", "20250201T000000Z", "20250301T000000Z", "20250401T000000Z"]


def saved(tmp_path: Path, version: str, model=None) -> Path:
    return make_bundle(model, version).save(tmp_path / "staging" / version)


def test_publish_keeps_the_last_three_and_points_at_the_newest(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    assert registry.names() == [] and ModelRegistry(tmp_path / "x", "ease").current() is None
    for version in VERSIONS:
        assert registry.publish(saved(tmp_path, version)) == version
    assert registry.names() == ["ease"]
    assert registry.versions() == VERSIONS[1:]
    assert registry.current() == VERSIONS[-1]
    pointer = json.loads((tmp_path / "models" / "ease" / "current.json").read_text())
    assert pointer == {"name": "ease", "version": VERSIONS[-1]}
    assert registry.load_current().version == VERSIONS[-1]
    with pytest.raises(ConfigError, match="already published"):
        registry.publish(saved(tmp_path, VERSIONS[-1]))


def test_rollback_and_pruning_never_delete_the_current(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path, keep=2)
    for version in VERSIONS[:2]:
        registry.publish(saved(tmp_path / "in", version), name="shop")
    assert registry.rollback("shop") == VERSIONS[0]
    with pytest.raises(ConfigError, match="no version before"):
        registry.rollback("shop")
    registry.set_current(VERSIONS[0], "shop")
    registry.publish(saved(tmp_path / "in", VERSIONS[2]), name="shop")
    assert registry.current("shop") == VERSIONS[2]
    assert registry.versions("shop") == VERSIONS[1:3]  # the oldest went once not current


def test_a_bundle_already_in_place_is_only_pointed_at(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models", "ease", keep=1)
    registry.publish(saved(tmp_path, VERSIONS[0]))
    in_place = registry.root / "ease" / VERSIONS[1]
    make_bundle(version=VERSIONS[1]).save(in_place)
    registry.publish(in_place)
    assert registry.versions() == [VERSIONS[1]] and registry.current() == VERSIONS[1]


def test_a_damaged_bundle_is_never_made_current(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    registry.publish(saved(tmp_path, VERSIONS[0]))
    broken = saved(tmp_path, VERSIONS[1])
    (broken / "graph.pt").write_bytes(b"junk")
    with pytest.raises(ModelError, match="graph"):
        registry.publish(broken)
    assert registry.current() == VERSIONS[0]
    with pytest.raises(MissingDataError):
        registry.publish(tmp_path / "nothing")
    with pytest.raises(MissingDataError, match="not published"):
        registry.set_current("19990101T000000Z")


def test_a_registry_with_several_names_needs_one(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    registry.publish(saved(tmp_path, VERSIONS[0]))
    registry.publish(saved(tmp_path / "knn", VERSIONS[0], ItemKNN(k=5)))
    with pytest.raises(ConfigError, match="name the model"):
        registry.current()
    assert registry.current("item_knn") == VERSIONS[0]


def test_swap_replays_live_changes_and_invalidates_the_cache(tmp_path: Path) -> None:
    cache = LRUCache()
    old = RecommendationEngine(make_bundle(version="v1"), cache=cache)
    old.set_catalog(catalog())
    old.add_item("new-book", {"categories": ["Books"], "price": 1.0})
    i2 = catalog().set_index("item_id").loc["i2"].to_dict()
    old.add_item("i2", {**i2, "price": 500.0})  # a trained item's price changed after start
    old.register_user("anna", {"age": 30})
    for item in ("i8", "i9", "i10"):
        old.add_rating("anna", item, 5.0)
    old.delete_rating("u0", "i1")
    old.add_rating("u0", "i12", 5.0)
    assert old.recommend("anna", 3).model_version == "v1" and len(cache) == 1
    holder = EngineHolder(old)
    retired = holder.swap(make_bundle(EASE(l2=5.0), version="v2"))
    assert retired is old and holder.version == "v2" and len(cache) == 0
    new = holder.engine
    answer = holder.recommend("anna", 3)
    assert answer.model_version == "v2" and answer.strategy == "fold_in" and not answer.cached
    assert set(answer.item_ids) <= MUSIC - {"i8", "i9", "i10"}
    assert "i1" in holder.recommend("u0", 16).item_ids  # the deletion carried over
    assert "i12" not in holder.recommend("u0", 16).item_ids
    assert holder.recommend("u0", 5, category="music").strategy == "fold_in"
    assert set(holder.recommend("u0", 16, max_price=95).item_ids) >= {"i1", "i8"}
    assert "i2" not in holder.recommend("u0", 16, exclude_rated=False, max_price=95).item_ids
    assert holder.recommend("u0", 16, exclude_rated=False, min_price=400).item_ids == ["i2"]
    assert new.stats()["added_items"] == 1 and new.live_log().items[0][0] == "new-book"
    assert [item for item, _ in new.live_log().items] == ["new-book", "i2"]


def test_replay_skips_items_the_new_model_does_not_know() -> None:
    old = RecommendationEngine(make_bundle(version="v1"))
    old.add_item("gadget", {"title": "Gadget"})
    old.add_rating("anna", "gadget", 5.0)
    old.add_rating("anna", "i3", 5.0)
    fresh = RecommendationEngine(make_bundle(version="v2"))
    log = old.live_log()
    log.items.clear()  # as if the new version had dropped the item
    assert fresh.replay(log) == 1
    assert fresh.stats()["replay_skipped"] == 1


def test_in_flight_requests_finish_on_the_old_engine() -> None:
    holder = EngineHolder(RecommendationEngine(make_bundle(version="v1")))
    started = holder.engine
    holder.swap(make_bundle(version="v2"))
    assert started.recommend("u1", 2).model_version == "v1"
    assert holder.recommend("u1", 2).model_version == "v2"


def test_hot_swap_under_concurrent_requests() -> None:
    bundles = [make_bundle(EASE(l2=1.0 + i), version=f"v{i}") for i in range(4)]
    holder = EngineHolder(RecommendationEngine(bundles[0]))
    holder.set_catalog(catalog())
    versions: set[str] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def client(worker: int) -> None:
        try:
            step = 0
            while not stop.is_set():
                user = f"u{(worker + step) % 20}"
                answer = holder.recommend(user, 3, in_stock_only=step % 2 == 0)
                versions.add(answer.model_version)
                assert len(answer.items) == 3
                holder.add_rating(f"live{worker}", f"i{step % 16}", 5.0)
                step += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for bundle in bundles[1:]:
        holder.swap(bundle)
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert versions <= {b.version for b in bundles}
    assert holder.recommend("u0", 3).model_version == "v3"
    final = holder.engine
    for worker in range(4):
        assert final.recommend(f"live{worker}", 1).strategy == "fold_in"


def test_swap_to_the_registry_current(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    registry.publish(saved(tmp_path, VERSIONS[0]))
    holder = EngineHolder(RecommendationEngine(registry.load_current()))
    assert holder.swap_to_current(registry) is False
    registry.publish(saved(tmp_path, VERSIONS[1]))
    assert holder.swap_to_current(registry) is True
    assert holder.version == VERSIONS[1]
    registry.rollback()
    assert holder.swap_to_current(registry) is True and holder.version == VERSIONS[0]
    assert holder.engine.bundle.path == registry.path(VERSIONS[0])
