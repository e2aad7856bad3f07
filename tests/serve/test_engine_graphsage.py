"""The inductive path through the engine: GraphSAGE with user and item encoders in the bundle.

On the checkerboard with user features saying the group (gender ``f``: books ``i0..i7``,
``m``: music ``i8..i15``); the engine must hand the model exactly the encoded demographics.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from storex.bundle import ModelBundle, describe
from storex.config import FeatureSettings
from storex.errors import DataError
from storex.features import ItemEncoder, UserEncoder
from storex.idmap import IdMap
from storex.serve.engine import RecommendationEngine
from tests.models.contract_models import TINY_TRAINING, checkerboard
from tests.serve.test_engine import BOOKS, MUSIC, catalog

graphsage = pytest.importorskip("storex.models.graphsage")

TRAIN = {**TINY_TRAINING, "seed": 1}


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved GraphSAGE bundle whose folder carries the fitted encoders."""
    data = checkerboard()
    user_ids = [f"u{i}" for i in range(data.num_users)]
    item_ids = [f"i{i}" for i in range(data.num_items)]
    group_b = np.arange(data.num_users) >= data.num_users // 2
    users = pd.DataFrame(
        {"user_id": user_ids, "gender": np.where(group_b, "m", "f"), "age": 30 + 20 * group_b}
    )
    train = pd.DataFrame(
        {
            "user_id": [user_ids[u] for u in data.train[0].tolist()],
            "item_id": [item_ids[i] for i in data.train[1].tolist()],
            "rating": np.nan,
        }
    )
    user_encoder = UserEncoder().fit(users, train)
    item_encoder = ItemEncoder(FeatureSettings(text_dim=0), min_category_count=1).fit(catalog())
    data.user_x = torch.from_numpy(user_encoder.transform(users, user_ids, train))
    data.item_x = torch.from_numpy(item_encoder.transform(catalog(), item_ids))
    model = graphsage.GraphSAGEModel(
        id_dropout=0.5, new_item_rate=0.3, embedding_dim=16, train=TRAIN
    ).fit(data)
    artifacts = tmp_path_factory.mktemp("artifacts")
    user_encoder.save(artifacts)
    item_encoder.save(artifacts)
    info = describe(model, version="g1", metrics={}, fingerprint="test")
    bundle = ModelBundle(model, data, IdMap(user_ids), IdMap(item_ids), info)
    return bundle.save(tmp_path_factory.mktemp("bundle") / "g1", artifacts_dir=artifacts)


@pytest.fixture()
def engine(bundle_dir: Path) -> RecommendationEngine:
    engine = RecommendationEngine(ModelBundle.load(bundle_dir))
    engine.set_catalog(catalog())
    return engine


def test_capabilities_are_probed(engine: RecommendationEngine) -> None:
    assert engine.user_encoder is not None and engine.item_encoder is not None
    assert engine.stats()["capabilities"] == {
        "fold_in": True,
        "user_features": True,
        "new_items": True,
        "item_relations": "embedding_cosine",
    }


@pytest.mark.parametrize(("gender", "age"), [("m", 50), ("f", 30)])
def test_cold_user_is_scored_from_encoded_demographics(
    engine: RecommendationEngine, gender: str, age: int
) -> None:
    engine.register_user("cold", {"gender": gender, "age": age})
    answer = engine.recommend("cold", 16)
    assert answer.strategy == "cold_start_features"
    assert answer.confidence == pytest.approx(1 / 6)
    assert engine.stats()["answers"]["cold_start_features"] == 1
    users = pd.DataFrame([{"user_id": "cold", "gender": gender, "age": age}])
    no_history = pd.DataFrame({"user_id": pd.Series([], dtype="string"), "rating": []})
    x = torch.from_numpy(engine.user_encoder.transform(users, ["cold"], no_history))
    expected = engine.bundle.model.score_new_users(x, [torch.empty(0, dtype=torch.long)])[0]
    assert [item.score for item in answer.items] == pytest.approx(
        torch.sort(expected, descending=True).values.tolist()
    )


def test_demographics_change_the_cold_answer(engine: RecommendationEngine) -> None:
    engine.register_user("m", {"gender": "m", "age": 50})
    engine.register_user("f", {"gender": "f", "age": 30})
    assert engine.predict_batch("m", ["i0", "i9"]) != engine.predict_batch("f", ["i0", "i9"])


def test_new_user_is_folded_in_through_the_graph(engine: RecommendationEngine) -> None:
    for item in ("i0", "i1", "i2", "i3"):  # no demographics: the history must speak
        engine.add_rating("warm", item, 5.0)
    answer = engine.recommend("warm", 3)
    assert answer.strategy == "fold_in"
    assert answer.confidence == pytest.approx(5 / 10)
    assert set(answer.item_ids) <= BOOKS
    reasons = engine.explain("warm", answer.item_ids[0])
    assert reasons and all(r.method == "embedding_cosine" for r in reasons)


def test_known_user_history_refreshes_features(engine: RecommendationEngine) -> None:
    state_before = engine.bundle.data.user_x[0].clone()
    engine.add_rating("u0", "i9", 5.0)
    state = engine._states.get("u0")
    assert state is not None
    features = engine.scorer.features(state)
    names = engine.user_encoder.feature_names_
    changed = {names[c] for c in torch.nonzero(features[0] != state_before).flatten().tolist()}
    assert changed == {"history_log_count_z"}
    assert engine.recommend("u0", 1).strategy == "fold_in"


def test_bad_demographics_raise_and_change_nothing(engine: RecommendationEngine) -> None:
    engine.register_user("kim", {"gender": "f"})
    with pytest.raises(DataError, match="negative age"):
        engine.register_user("kim", {"age": -4})
    kim = engine._states.get("kim")
    assert kim is not None and kim.demographics == {"gender": "f"}
    assert engine.recommend("kim", 8).strategy == "cold_start_features"


NEW_LP = {"categories": ["Music", "Vinyl"], "price": 120.0}


def beats_every_book(engine: RecommendationEngine, user: str, item: str = "new-lp") -> bool:
    new, *books = engine.predict_batch(user, [item, *sorted(BOOKS)])
    return math.isfinite(new) and new > max(books)


def test_new_item_is_recommended_to_every_kind_of_user(engine: RecommendationEngine) -> None:
    assert engine.add_item("new-lp", NEW_LP) is True
    assert engine.stats()["added_items"] == 1
    # a training user of the music half: the record comes before every book
    assert engine.recommend("u12", 3).strategy == "personalized"
    assert "new-lp" in engine.recommend("u12", 3).item_ids
    assert beats_every_book(engine, "u12")
    # a new user folded in from four records
    for item in ("i8", "i9", "i10", "i11"):
        engine.add_rating("listener", item, 5.0)
    assert engine.recommend("listener", 5).strategy == "fold_in"
    assert "new-lp" in engine.recommend("listener", 5).item_ids
    assert beats_every_book(engine, "listener")
    # a new user known by demographics only
    engine.register_user("cold", {"gender": "m", "age": 50})
    answer = engine.recommend("cold", 10)
    assert answer.strategy == "cold_start_features" and "new-lp" in answer.item_ids
    assert beats_every_book(engine, "cold")
    # a stranger gets popularity, which a new item has none of
    assert "new-lp" not in engine.recommend("stranger", 20).item_ids
    assert math.isnan(engine.predict("stranger", "new-lp"))


def test_new_item_score_is_the_models_own(engine: RecommendationEngine) -> None:
    engine.add_item("new-lp", NEW_LP)
    model = engine.bundle.model
    x = torch.from_numpy(
        engine.item_encoder.transform(pd.DataFrame([{**NEW_LP, "item_id": "new-lp"}]), ["new-lp"])
    )
    states = model.user_states(torch.tensor([12]))
    expected = model.score_new_items(states, model.embed_new_items(x))
    assert engine.predict("u12", "new-lp") == pytest.approx(float(expected[0, 0]), rel=1e-5)
    books_reader = engine.predict("u3", "new-lp")
    engine.add_item("new-lp", {"categories": ["Books"], "price": 20.0})  # re-encoded, re-embedded
    assert engine.predict("u3", "new-lp") > books_reader
    assert beats_every_book(engine, "u12") is False


def test_similar_items_of_a_new_item_use_its_embedding(engine: RecommendationEngine) -> None:
    engine.add_item("new-lp", NEW_LP)
    similar = engine.similar_items("new-lp", 8)
    assert {s.item_id for s in similar} == MUSIC
    model = engine.bundle.model
    state = engine._new_states[0]
    assert state is not None
    cosine = torch.nn.functional.cosine_similarity(model.item_vectors(), state[None, :], dim=1)
    assert [s.score for s in similar] == pytest.approx(
        torch.sort(cosine, descending=True).values[:8].tolist(), rel=1e-5
    )
