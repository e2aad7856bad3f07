"""Behaviour of the baselines beyond the shared contract: exact formulas and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from storex.errors import ConfigError, DataError, ModelError
from storex.models.baselines import EASE, ItemKNN, MostPopular, RandomRecommender
from storex.models.data import InteractionData


def from_dense(dense: np.ndarray) -> InteractionData:
    """Interaction data whose training matrix is ``dense`` (no held-out pairs)."""
    users, items = np.nonzero(dense)
    train = torch.from_numpy(np.vstack([users, items]).astype(np.int64))
    empty = torch.empty(2, 0, dtype=torch.long)
    num_users, num_items = dense.shape
    return InteractionData(
        num_users=num_users,
        num_items=num_items,
        train=train,
        valid=empty,
        test=empty,
        train_rating=torch.full((train.shape[1],), float("nan")),
        valid_rating=torch.empty(0),
        test_rating=torch.empty(0),
        user_x=torch.zeros(num_users, 0),
        item_x=torch.zeros(num_items, 0),
    )


def random_dense(num_users: int, num_items: int, density: float, seed: int) -> np.ndarray:
    dense = (np.random.default_rng(seed).random((num_users, num_items)) < density).astype(float)
    dense[np.arange(num_users), np.arange(num_users) % num_items] = 1.0  # no empty user
    return dense


def ease_reference(dense: np.ndarray, l2: float) -> np.ndarray:
    """Steck's closed form, written straight from the paper in float64."""
    precision = np.linalg.inv(dense.T @ dense + l2 * np.eye(dense.shape[1]))
    weights = -precision / np.diag(precision)[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights


def no_features(count: int) -> torch.Tensor:
    return torch.zeros(count, 0)


# RandomRecommender


def test_random_is_deterministic_per_seed_and_batch_invariant() -> None:
    data = from_dense(random_dense(50, 30, 0.2, seed=0))
    first = RandomRecommender(seed=7).fit(data).score(torch.arange(50))
    again = RandomRecommender(seed=7).fit(data).score(torch.arange(50))
    other = RandomRecommender(seed=8).fit(data).score(torch.arange(50))
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.equal(first, other)
    single = RandomRecommender(seed=7).fit(data).score(torch.tensor([31]))
    torch.testing.assert_close(single[0], first[31], rtol=0, atol=0)
    assert not torch.equal(first[0], first[1])


def test_random_scores_look_uniform() -> None:
    scores = RandomRecommender(seed=1).fit(from_dense(random_dense(300, 400, 0.01, 1)))
    values = scores.score(torch.arange(300))
    assert values.min() >= 0 and values.max() < 1
    assert abs(float(values.mean()) - 0.5) < 0.01
    assert abs(float((values < 0.25).float().mean()) - 0.25) < 0.01


def test_random_rejects_unknown_users() -> None:
    model = RandomRecommender().fit(from_dense(random_dense(5, 4, 0.5, 2)))
    with pytest.raises(IndexError):
        model.score(torch.tensor([5]))


def test_random_new_users_reproducible() -> None:
    model = RandomRecommender(seed=4).fit(from_dense(random_dense(5, 6, 0.5, 3)))
    histories = [torch.tensor([1]), torch.tensor([], dtype=torch.long)]
    first = model.score_new_users(no_features(2), histories)
    torch.testing.assert_close(first, model.score_new_users(no_features(2), histories))
    assert first.shape == (2, 6)


# MostPopular


def test_most_popular_scores_are_training_degree_for_everyone() -> None:
    dense = random_dense(40, 12, 0.3, seed=4)
    model = MostPopular().fit(from_dense(dense))
    expected = torch.tensor(dense.sum(axis=0), dtype=torch.float32)
    scores = model.score(torch.tensor([0, 17, 39]))
    for row in scores:
        torch.testing.assert_close(row, expected)
    new = model.score_new_users(no_features(2), [torch.tensor([0, 3]), torch.tensor([5])])
    torch.testing.assert_close(new, expected.expand(2, -1))


# EASE


@pytest.mark.parametrize(
    ("num_users", "num_items"), [(80, 25), (15, 40)], ids=["cholesky", "woodbury"]
)
def test_ease_matches_the_closed_form(num_users: int, num_items: int) -> None:
    dense = random_dense(num_users, num_items, 0.25, seed=5)
    model = EASE(l2=3.0).fit(from_dense(dense))
    expected = ease_reference(dense, 3.0)
    np.testing.assert_allclose(model.weights_.numpy(), expected, atol=2e-5, rtol=1e-3)
    assert torch.all(torch.diagonal(model.weights_) == 0)
    scores = model.score(torch.tensor([2, 9]))
    np.testing.assert_allclose(scores.numpy(), dense[[2, 9]] @ expected, atol=1e-4, rtol=1e-3)


def test_ease_refuses_catalogues_above_max_items() -> None:
    model = EASE(max_items=30)
    with pytest.raises(ConfigError, match=r"40 x 40 .* GB .*max_items=30"):
        model.fit(from_dense(random_dense(10, 40, 0.3, seed=6)))
    assert not model.is_fitted


@pytest.mark.parametrize("kwargs", [{"l2": 0.0}, {"l2": -1.0}, {"max_items": 0}])
def test_ease_rejects_bad_hyperparameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        EASE(**kwargs)


@pytest.mark.parametrize(
    "factory", [lambda: EASE(l2=2.0), lambda: ItemKNN(k=4)], ids=["ease", "knn"]
)
def test_new_user_history_folds_in_like_a_training_user(factory) -> None:
    dense = random_dense(30, 20, 0.3, seed=7)
    model = factory().fit(from_dense(dense))
    history = torch.from_numpy(np.flatnonzero(dense[11]))
    duplicated = torch.cat([history, history[:2]])
    new = model.score_new_users(no_features(2), [history, duplicated])
    expected = model.score(torch.tensor([11]))[0]
    torch.testing.assert_close(new[0], expected)
    torch.testing.assert_close(new[1], expected)


@pytest.mark.parametrize("factory", [EASE, ItemKNN], ids=["ease", "knn"])
def test_new_user_without_history_gets_popularity(factory) -> None:
    dense = random_dense(30, 20, 0.3, seed=8)
    model = factory().fit(from_dense(dense))
    empty = torch.tensor([], dtype=torch.long)
    scores = model.score_new_users(no_features(2), [torch.tensor([3]), empty])
    torch.testing.assert_close(scores[1], torch.tensor(dense.sum(axis=0), dtype=torch.float32))
    torch.testing.assert_close(
        scores[0], model.score_new_users(no_features(1), [torch.tensor([3])])[0]
    )


@pytest.mark.parametrize("factory", [EASE, ItemKNN], ids=["ease", "knn"])
def test_new_user_bad_input_is_named(factory) -> None:
    model = factory().fit(from_dense(random_dense(10, 6, 0.4, seed=9)))
    with pytest.raises(DataError, match=r"new user 1 holds item index 6; expected .*\[0, 6\)"):
        model.score_new_users(no_features(2), [torch.tensor([0]), torch.tensor([2, 6])])
    with pytest.raises(DataError, match="3 feature rows but 2 histories"):
        model.score_new_users(no_features(3), [torch.tensor([0]), torch.tensor([1])])


def test_set_state_rejects_wrong_or_missing_tensors() -> None:
    data = from_dense(random_dense(10, 6, 0.4, seed=10))
    model = EASE().fit(data)
    bigger = EASE().fit(from_dense(random_dense(10, 7, 0.4, seed=10)))
    with pytest.raises(ModelError, match=r"'weights' has shape \(7, 7\), expected \(6, 6\)"):
        model.set_state(model.state() | {"weights": bigger.weights_})
    with pytest.raises(ModelError, match="inconsistent training history"):
        model.set_state(model.state() | {"history_indices": torch.tensor([0])})
    knn = ItemKNN().fit(data)
    with pytest.raises(ModelError, match="lacks 'similarity_values'"):
        knn.set_state({k: v for k, v in knn.state().items() if k != "similarity_values"})


# ItemKNN


def cosine_reference(dense: np.ndarray, shrink: float) -> np.ndarray:
    cooc = dense.T @ dense
    norms = np.sqrt(np.diag(cooc))
    similarity = cooc / (np.outer(norms, norms) + shrink)
    np.fill_diagonal(similarity, 0.0)
    return similarity


def test_item_knn_keeps_the_top_k_cosine_neighbours_of_each_item() -> None:
    dense = random_dense(60, 25, 0.3, seed=11)
    k = 4
    kept = ItemKNN(k=k, shrink=2.0).fit(from_dense(dense)).similarity_.toarray()
    reference = cosine_reference(dense, 2.0)
    for item in range(dense.shape[1]):
        column = kept[:, item]
        nonzero = np.flatnonzero(column)
        assert len(nonzero) == k
        assert item not in nonzero
        np.testing.assert_allclose(column[nonzero], reference[nonzero, item], rtol=1e-5)
        best = np.sort(reference[:, item])[::-1][:k]
        np.testing.assert_allclose(np.sort(column[nonzero])[::-1], best, rtol=1e-5)


def test_item_knn_scores_sum_neighbour_similarities() -> None:
    dense = random_dense(40, 15, 0.3, seed=12)
    model = ItemKNN(k=15, shrink=0.0).fit(from_dense(dense))
    expected = dense[[0, 5]] @ cosine_reference(dense, 0.0)
    np.testing.assert_allclose(model.score(torch.tensor([0, 5])).numpy(), expected, rtol=1e-5)


def test_item_knn_shrinkage_damps_similarities() -> None:
    data = from_dense(random_dense(40, 15, 0.3, seed=13))
    plain = ItemKNN(k=15, shrink=0.0).fit(data).similarity_.toarray()
    shrunk = ItemKNN(k=15, shrink=5.0).fit(data).similarity_.toarray()
    positive = plain > 0
    assert positive.any()
    assert np.all(shrunk[positive] < plain[positive])


@pytest.mark.parametrize("kwargs", [{"k": 0}, {"shrink": -1.0}])
def test_item_knn_rejects_bad_hyperparameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ItemKNN(**kwargs)


# Real data


def recall_at(model, data: InteractionData, k: int) -> float:
    """Mean recall@k on test, training positives masked (reference protocol)."""
    test, train = data.matrix("test"), data.matrix("train")
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    items, _ = model.recommend(torch.from_numpy(users), k=k, exclude=train)
    hits = np.take_along_axis(test[users].toarray(), items.numpy(), axis=1).sum(axis=1)
    return float(np.mean(hits / np.diff(test[users].indptr)))


@pytest.mark.realdata
def test_baselines_order_on_movielens_100k(real_dataset, tmp_path) -> None:
    from storex.config import load_settings
    from storex.pipeline import prepare

    real_dataset("ml-100k")
    prepare("ml-100k", tmp_path / "art", load_settings())
    data = InteractionData.from_artifacts(tmp_path / "art")
    recall = {
        model.name: recall_at(model.fit(data), data, 20)
        for model in (RandomRecommender(), MostPopular(), ItemKNN(), EASE(l2=250.0))
    }
    assert recall["random"] < recall["most_popular"] < recall["item_knn"]
    assert recall["most_popular"] < recall["ease"]
