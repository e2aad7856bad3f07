"""Serving a saved session model: unknown items, popularity fallback, batch equals single."""

from __future__ import annotations

import pytest

from storex.errors import ConfigError, DataError
from storex.sessions import SessionEngine
from storex.sessions.engine import MODEL_STRATEGY, POPULARITY_STRATEGY
from tests.sessions.planted import successor


@pytest.fixture(scope="module")
def engine(saved) -> SessionEngine:
    return SessionEngine.load(saved)


def test_known_session_gets_the_planted_successor_first(engine: SessionEngine) -> None:
    answer = engine.recommend(["p10", "p11", "p12"], k=5)
    assert answer.strategy == MODEL_STRATEGY
    assert answer.items[0] == successor("p12") and len(answer.items) == 5
    assert answer.scores == sorted(answer.scores, reverse=True)
    assert answer.unknown_items == [] and answer.model_version


def test_unknown_items_are_ignored_and_reported(engine: SessionEngine) -> None:
    answer = engine.recommend(["nope", "p10", "p11", "nope", "gone"], k=3)
    assert answer.unknown_items == ["nope", "gone"]
    assert answer.items == engine.recommend(["p10", "p11"], k=3).items
    assert answer.items[0] == "p12"


def test_repeats_are_merged_as_in_training(engine: SessionEngine) -> None:
    merged = engine.recommend(["p10", "p10", "p11", "p11"], k=4)
    assert merged.items == engine.recommend(["p10", "p11"], k=4).items


def test_empty_or_all_unknown_sessions_get_popular_items(engine: SessionEngine) -> None:
    empty = engine.recommend([], k=4)
    unknown = engine.recommend(["x", "y"], k=4)
    assert empty.strategy == unknown.strategy == POPULARITY_STRATEGY
    assert empty.items == unknown.items and unknown.unknown_items == ["x", "y"]
    assert empty.scores == sorted(empty.scores, reverse=True) and empty.scores[0] >= 1


def test_batch_equals_single(engine: SessionEngine) -> None:
    sessions = [["p00", "p01"], [], ["p20"], ["zz", "p31", "p32"]]
    batch = engine.recommend_batch(sessions, k=6)
    for together, alone in zip(batch, [engine.recommend(s, k=6) for s in sessions], strict=True):
        assert (together.items, together.strategy) == (alone.items, alone.strategy)
        assert together.unknown_items == alone.unknown_items
        assert together.scores == pytest.approx(alone.scores, abs=1e-5)


def test_events_and_bad_requests(engine: SessionEngine) -> None:
    carted = engine.recommend(["p10", "p11"], k=3, events=["view", "cart"])
    assert carted.strategy == MODEL_STRATEGY
    with pytest.raises(DataError, match="unknown event 'click'"):
        engine.recommend(["p10"], events=["click"])
    with pytest.raises(DataError, match="2 items but 1 events"):
        engine.recommend(["p10", "p11"], events=["view"])
    with pytest.raises(DataError, match="k must be >= 1"):
        engine.recommend(["p10"], k=0)
    assert len(engine.recommend(["p10"], k=1000).items) == engine.num_items
    with pytest.raises(ConfigError, match="backend"):
        SessionEngine.load("anywhere", backend="tensorrt")
