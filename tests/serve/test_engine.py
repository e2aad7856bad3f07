"""The serving engine on the checkerboard: strategies, filters, live updates, explanations.

Users ``u0..u9`` like items ``i0..i7`` (books), users ``u10..u19`` items ``i8..i15`` (music);
each user has six training positives in their own half.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from storex.bundle import ModelBundle, describe
from storex.errors import DataError
from storex.idmap import IdMap
from storex.models.base import Recommender
from storex.models.baselines import EASE, ItemKNN, MostPopular
from storex.serve.engine import (
    RecommendationEngine,
    RepeatAfter,
    UnknownIdError,
    is_positive,
)
from storex.serve.engine.engine import best_first
from tests.models.contract_models import checkerboard

BOOKS = {f"i{i}" for i in range(8)}
MUSIC = {f"i{i}" for i in range(8, 16)}


def make_bundle(model: Recommender | None = None, version: str = "v1") -> ModelBundle:
    """A fitted bundle over the checkerboard (EASE by default)."""
    data = checkerboard()
    model = (model or EASE(l2=1.0)).fit(data)
    users = IdMap(f"u{i}" for i in range(data.num_users))
    items = IdMap(f"i{i}" for i in range(data.num_items))
    info = describe(model, version=version, metrics={}, fingerprint="test")
    return ModelBundle(model, data, users, items, info)


def catalog() -> pd.DataFrame:
    """Books are even-priced 10..80, music 90..160; odd items are out of stock."""
    return pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(16)],
            "title": [f"Item {i}" for i in range(16)],
            "categories": [["Books"] if i < 8 else ["Music", "Vinyl"] for i in range(16)],
            "price": [10.0 * (i + 1) for i in range(16)],
            "in_stock": [i % 2 == 0 for i in range(16)],
        }
    )


def seen(user: int) -> set[str]:
    data = checkerboard()
    return {f"i{i}" for i in data.train[1][data.train[0] == user].tolist()}


@pytest.fixture()
def engine() -> RecommendationEngine:
    engine = RecommendationEngine(make_bundle())
    engine.set_catalog(catalog())
    return engine


def test_known_user_gets_the_models_exact_top_k(engine: RecommendationEngine) -> None:
    bundle = engine.bundle
    answer = engine.recommend("u3", 2)
    expected, scores = bundle.model.recommend(
        torch.tensor([3]), 2, exclude=bundle.data.matrix("train")
    )
    assert answer.item_ids == [f"i{i}" for i in expected[0].tolist()]
    assert [item.score for item in answer.items] == pytest.approx(scores[0].tolist())
    assert answer.strategy == "personalized" and answer.model_version == "v1"
    assert answer.confidence == pytest.approx(6 / (6 + 5))
    assert not set(answer.item_ids) & seen(3)
    assert set(answer.item_ids) <= BOOKS


def test_seen_items_come_back_only_when_asked(engine: RecommendationEngine) -> None:
    assert not set(engine.recommend("u0", 16).item_ids) & seen(0)
    assert seen(0) <= set(engine.recommend("u0", 16, exclude_rated=False).item_ids)


def test_filters(engine: RecommendationEngine) -> None:
    assert set(engine.recommend("u0", 16, category="music").item_ids) == MUSIC
    assert set(engine.recommend("u0", 16, category=" VINYL ").item_ids) == MUSIC
    assert engine.recommend("u0", 5, category="no such shelf").items == ()
    priced = engine.recommend("u0", 16, min_price=95, max_price=120).item_ids
    assert set(priced) == {"i9", "i10", "i11"}
    assert engine.recommend("u0", 5, min_price=200, max_price=100).items == ()
    stocked = engine.recommend("u0", 16, in_stock_only=True, exclude_rated=False).item_ids
    assert set(stocked) == {f"i{i}" for i in range(0, 16, 2)}
    allowed = engine.recommend("u0", 5, allowed_items=["i12", "i13", "nope"]).item_ids
    assert set(allowed) == {"i12", "i13"}


def test_items_missing_from_the_catalog_fail_price_filters_only() -> None:
    engine = RecommendationEngine(make_bundle())
    assert (
        engine.set_catalog(catalog().iloc[:8].assign(item_id=[*(f"i{i}" for i in range(7)), "x"]))
        == 1
    )
    assert engine.stats()["catalog_unknown_items"] == 1
    assert len(engine.recommend("u0", 16, exclude_rated=False).items) == 16
    assert set(engine.recommend("u0", 16, exclude_rated=False, min_price=0).item_ids) == {
        f"i{i}" for i in range(7)
    }


def test_bad_catalogs_raise() -> None:
    engine = RecommendationEngine(make_bundle())
    with pytest.raises(DataError, match="duplicated item id"):
        engine.set_catalog(pd.concat([catalog(), catalog().iloc[:1]]))
    with pytest.raises(DataError, match="in_stock"):
        engine.set_catalog(catalog().assign(in_stock="maybe"))
    with pytest.raises(DataError, match="item_id"):
        engine.set_catalog(pd.DataFrame({"title": ["x"]}))


def test_unknown_user_gets_popularity(engine: RecommendationEngine) -> None:
    answer = engine.recommend("stranger", 16)
    popularity = engine.bundle.data.item_popularity()
    assert answer.strategy == "popularity" and answer.confidence == 0.0
    assert [item.score for item in answer.items] == sorted(popularity.tolist(), reverse=True)


def test_cold_start_without_feature_model_falls_back_to_popularity(
    engine: RecommendationEngine,
) -> None:
    engine.register_user("new", {"age": 30, "gender": "f"})
    answer = engine.recommend("new", 3)
    assert answer.strategy == "popularity" and answer.confidence == 0.0
    assert engine.stats()["answers"]["popularity"] == 1
    assert engine.stats()["capabilities"]["user_features"] is False


def test_new_user_is_folded_in_from_their_ratings(engine: RecommendationEngine) -> None:
    for item in ("i8", "i9", "i10"):
        engine.add_rating("new", item, 5.0)
    engine.add_rating("new", "i11", 2.0)  # seen, but not a positive edge
    answer = engine.recommend("new", 4)
    assert answer.strategy == "fold_in"
    assert answer.confidence == pytest.approx(3 / (3 + 5))
    assert set(answer.item_ids) <= MUSIC - {"i8", "i9", "i10", "i11"}
    expected = engine.bundle.model.score_new_users(torch.zeros(1, 0), [torch.tensor([8, 9, 10])])
    assert engine.predict_batch("new", ["i12", "i0"]) == pytest.approx(
        expected[0, [12, 0]].tolist()
    )


def test_known_users_changes_are_folded_in(engine: RecommendationEngine) -> None:
    before = engine.recommend("u0", 2)
    assert set(before.item_ids) <= BOOKS
    for item in range(8, 16):
        engine.add_rating("u0", f"i{item}", 5.0)
    history = torch.tensor([*sorted(checkerboard().train[1][:6].tolist()), *range(8, 16)])
    expected = engine.bundle.model.score_new_users(torch.zeros(1, 0), [history])[0]
    assert engine.predict_batch("u0", [f"i{i}" for i in range(16)]) == pytest.approx(
        expected.tolist()
    )
    after = engine.recommend("u0", 2)
    assert after.strategy == "fold_in" and not after.cached
    assert after.confidence == pytest.approx(14 / 19)


def test_deleting_ratings_removes_edges(engine: RecommendationEngine) -> None:
    engine.add_rating("new", "i8", 5.0)
    assert engine.recommend("new", 1).strategy == "fold_in"
    assert engine.delete_rating("new", "i8") is True
    assert engine.delete_rating("new", "i8") is False
    assert engine.recommend("new", 1).strategy == "popularity"
    training_item = sorted(seen(0))[0]
    assert engine.delete_rating("u0", training_item) is True
    assert training_item in engine.recommend("u0", 16).item_ids  # no longer seen
    assert engine.recommend("u0", 1).strategy == "fold_in"


def test_updating_a_rating_below_the_threshold_drops_the_edge(
    engine: RecommendationEngine,
) -> None:
    engine.add_rating("new", "i8", 5.0)
    engine.add_rating("new", "i0", 5.0)
    engine.update_rating("new", "i8", 1.0)
    expected = engine.bundle.model.score_new_users(torch.zeros(1, 0), [torch.tensor([0])])[0]
    assert engine.predict("new", "i3") == pytest.approx(float(expected[3]))


def test_positive_threshold_is_configurable() -> None:
    assert is_positive(3.5, "rating", 3.5) and not is_positive(3.0, "rating", 3.5)
    assert is_positive(math.nan, "purchase", 3.5)
    lenient = RecommendationEngine(make_bundle(), positive_threshold=2.0)
    lenient.add_rating("new", "i8", 2.0)
    assert lenient.recommend("new", 1).strategy == "fold_in"
    strict = RecommendationEngine(make_bundle())
    strict.add_rating("new", "i8", 2.0)
    assert strict.recommend("new", 1).strategy == "popularity"


def test_bad_requests_raise(engine: RecommendationEngine) -> None:
    with pytest.raises(DataError, match="n must be"):
        engine.recommend("u0", 0)
    with pytest.raises(UnknownIdError, match="nope"):
        engine.add_rating("u0", "nope", 4.0)
    with pytest.raises(DataError, match="finite rating"):
        engine.add_rating("u0", "i1", float("nan"))
    with pytest.raises(UnknownIdError):
        engine.predict("u0", "nope")


def test_answers_are_cached_until_the_user_changes(engine: RecommendationEngine) -> None:
    first = engine.recommend("u0", 3)
    second = engine.recommend("u0", 3)
    assert not first.cached and second.cached and second.items == first.items
    assert engine.recommend("u0", 4).cached is False  # another request, another entry
    engine.add_rating("u0", first.item_ids[0], 5.0)
    third = engine.recommend("u0", 3)
    assert not third.cached and first.item_ids[0] not in third.item_ids
    stats = engine.stats()
    assert stats["cache"] == {"hits": 1, "misses": 3, "errors": 0}
    assert stats["answers"]["personalized"] == 3 and stats["answers"]["fold_in"] == 1


def test_a_failing_cache_never_breaks_serving(engine: RecommendationEngine) -> None:
    class Broken:
        def __getattr__(self, name: str):
            raise ConnectionError("cache down")

    engine.cache = Broken()  # type: ignore[assignment]
    assert len(engine.recommend("u0", 2).items) == 2
    engine.add_rating("u0", "i15", 5.0)
    assert engine.stats()["cache"]["errors"] == 3


def test_explanations_follow_the_item_item_weights(engine: RecommendationEngine) -> None:
    weights = engine.bundle.model.weights_
    history = sorted(int(i[1:]) for i in seen(0))
    reasons = engine.explain("u0", "i3", top=2)
    expected = sorted(history, key=lambda h: -float(weights[h, 3]))[:2]
    assert [r.item_id for r in reasons] == [f"i{h}" for h in expected]
    assert [r.weight for r in reasons] == pytest.approx([float(weights[h, 3]) for h in expected])
    assert all(r.method == "item_weights" and r.weight > 0 for r in reasons)
    answer = engine.recommend("u0", 2, explain=True)
    assert all(item.because for item in answer.items)
    assert engine.explain("stranger", "i3") == []


def test_explanations_carry_live_ratings(engine: RecommendationEngine) -> None:
    engine.add_rating("new", "i10", 4.0)
    engine.add_rating("new", "i13", 5.0)
    reasons = engine.explain("new", "i14")
    assert [(r.item_id, r.rating) for r in reasons] == [("i13", 5.0), ("i10", 4.0)]


def test_similar_items(engine: RecommendationEngine) -> None:
    similar = engine.similar_items("i2", 5)
    row = engine.bundle.model.weights_[2].clone()
    row[2] = -torch.inf
    assert [s.item_id for s in similar] == [f"i{i}" for i in torch.topk(row, 5).indices.tolist()]
    assert {s.item_id for s in similar} <= BOOKS - {"i2"}
    popular = RecommendationEngine(make_bundle(MostPopular()))
    assert popular.relations.method == "cooccurrence"
    assert {s.item_id for s in popular.similar_items("i9", 7)} == MUSIC - {"i9"}
    assert popular.explain("u12", "i9")[0].method == "cooccurrence"


def test_predict_matches_the_model(engine: RecommendationEngine) -> None:
    scores = engine.bundle.model.score(torch.tensor([5]))[0]
    assert engine.predict("u5", "i7") == pytest.approx(float(scores[7]))
    assert engine.predict_batch("u5", ["i1", "i9"]) == pytest.approx(scores[[1, 9]].tolist())
    assert engine.predict_batch("u5", []) == []


def test_consumables_come_back_after_their_window() -> None:
    now = [1_000_000.0]
    engine = RecommendationEngine(
        make_bundle(), exclusion_policy=RepeatAfter({"purchase": 30}), clock=lambda: now[0]
    )
    engine.add_rating("u0", "i12", None, event="purchase")
    engine.add_rating("u0", "i13", 5.0)
    ask = {"allowed_items": ["i12", "i13"], "n": 5}
    assert engine.recommend("u0", **ask).items == ()
    now[0] += 31 * 86_400
    engine.cache = type(engine.cache)()  # the answer above was cached
    assert engine.recommend("u0", **ask).item_ids == ["i12"]
    training = engine.recommend("u0", 16).item_ids
    assert not set(training) & seen(0)  # training edges have no time: still excluded


def test_new_items_are_catalog_only_unless_the_model_scores_them(
    engine: RecommendationEngine,
) -> None:
    assert engine.add_item("new-book", {"title": "Fresh", "categories": ["Books"]}) is False
    assert "new-book" not in engine.recommend("u0", 20, exclude_rated=False).item_ids
    assert math.isnan(engine.predict("u0", "new-book"))
    assert engine.similar_items("new-book") == []
    assert engine.stats()["added_items"] == 1
    engine.add_rating("u0", "new-book", 5.0)  # recorded, but not a model edge
    assert engine.recommend("u0", 1).strategy == "personalized"

    class EaseWithNewItems(EASE):
        """New items score one above the user's best trained item (a one-wide state each)."""

        def embed_new_items(self, item_x: torch.Tensor) -> torch.Tensor:
            return torch.ones(item_x.shape[0], 1)

        def user_states(self, users: torch.Tensor) -> torch.Tensor:
            return self.score(users).max(dim=1, keepdim=True).values + 1.0

        def score_new_items(
            self, user_states: torch.Tensor, item_states: torch.Tensor
        ) -> torch.Tensor:
            return user_states @ item_states.T

    scoring = RecommendationEngine(make_bundle(EaseWithNewItems(l2=1.0)))
    scoring.set_catalog(catalog())
    assert scoring.add_item("new-book", {"categories": ["Books"], "price": 5.0}) is True
    assert scoring.recommend("u15", 1).item_ids == ["new-book"]
    assert scoring.recommend("u15", 3, category="books").item_ids[0] == "new-book"
    assert scoring.recommend("u15", 3, category="music").item_ids[0] != "new-book"
    assert scoring.recommend("u15", 3, max_price=6).item_ids == ["new-book"]


def test_concurrent_updates_and_reads_stay_consistent(engine: RecommendationEngine) -> None:
    errors: list[BaseException] = []

    def writer(user: str) -> None:
        try:
            for item in range(16):
                engine.add_rating(user, f"i{item}", 5.0 if item % 2 else 1.0)
                engine.recommend(user, 3, category="books")
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(30):
                for user in ("w0", "w1", "u0"):
                    engine.recommend(user, 5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    odd = np.arange(1, 16, 2)
    expected = engine.bundle.model.score_new_users(torch.zeros(1, 0), [torch.from_numpy(odd)])
    for user in ("w0", "w1", "w2"):
        assert engine.recommend(user, 16, exclude_rated=False).strategy == "fold_in"
        assert engine.predict("w0", "i0") == pytest.approx(float(expected[0, 0]))


def test_the_models_item_item_views() -> None:
    """The contract methods the engine relies on (added for serving)."""
    data = checkerboard()
    knn = ItemKNN(k=5, shrink=1.0).fit(data)
    sources, targets = torch.tensor([0, 9]), torch.tensor([1, 2, 12])
    expected = knn.similarity_[[0, 9]][:, [1, 2, 12]].toarray()
    assert torch.equal(knn.item_weights(sources, targets), torch.from_numpy(expected))
    items, weights = knn.similar_items(torch.tensor([3]), 4)
    assert 3 not in items[0].tolist() and set(items[0].tolist()) <= set(range(8))
    assert torch.all(weights[0][:-1] >= weights[0][1:])
    with pytest.raises(NotImplementedError):
        MostPopular().fit(data).item_weights(sources)
    assert MostPopular().fit(data).item_vectors() is None

    class Embedded(MostPopular):
        def item_vectors(self) -> torch.Tensor:
            return torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])

    embedded = Embedded().fit(checkerboard())
    cosine = embedded.item_weights(torch.tensor([0]), torch.tensor([1, 2, 3]))
    assert cosine[0].tolist() == pytest.approx([1.0, 0.0, 2**-0.5])


@given(
    scores=st.lists(
        st.sampled_from([-2.0, -0.5, 0.0, 0.5, 1.0, 3.0, -math.inf, math.inf, math.nan]),
        max_size=40,
    ),
    n=st.integers(0, 45),
)
def test_best_first_is_a_stable_sort_of_the_finite_scores(scores: list[float], n: int) -> None:
    row = np.array(scores, dtype=np.float32)
    finite = [i for i, x in enumerate(scores) if math.isfinite(x)]
    expected = sorted(finite, key=lambda i: (-scores[i], i))[:n]
    assert best_first(row, n).tolist() == expected


def test_warm_computes_ahead_the_rows_answers_would_compute() -> None:
    lazy, warmed = RecommendationEngine(make_bundle()), RecommendationEngine(make_bundle())
    for engine in (lazy, warmed):
        engine.add_rating("u0", "i9", 5.0, refresh=False)
        engine.add_rating("newbie", "i9", 5.0, refresh=False)
        engine.add_rating("newbie", "i10", 4.0, refresh=False)
    assert warmed.warm(batch=1) == {"folded_in": 2, "trained": 20}
    assert warmed.warm() == {"folded_in": 0, "trained": 0}  # nothing left to compute
    for user in ("u0", "newbie", "u5"):
        expected, answer = lazy.recommend(user, 16), warmed.recommend(user, 16)
        assert answer.item_ids == expected.item_ids and answer.strategy == expected.strategy
        assert [i.score for i in answer.items] == pytest.approx([i.score for i in expected.items])
    assert warmed.recommend("newbie").strategy == "fold_in"
