"""LightGCN / LightGCN++: normalisation, propagation, pooling, fitting, saving, cold start."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from storex.config import load_settings
from storex.errors import ConfigError
from storex.models.base import Recommender
from storex.models.data import InteractionData
from storex.models.lightgcn import LightGCN, LightGCNModule, normalized_adjacency
from storex.models.neural import GraphInputs
from storex.models.registry import model_class
from storex.pipeline import prepare
from storex.train import RankingValidator
from tests.train.test_trainer import grouped_data

EDGES = torch.tensor([[0, 0, 1, 2, 2, 2], [0, 1, 1, 0, 1, 2]])  # 3 users, 3 items
USERS, ITEMS = 3, 3


def dense_adjacency() -> torch.Tensor:
    adjacency = torch.zeros(USERS + ITEMS, USERS + ITEMS)
    adjacency[EDGES[0], EDGES[1] + USERS] = 1.0
    adjacency[EDGES[1] + USERS, EDGES[0]] = 1.0
    return adjacency


def graph() -> GraphInputs:
    return GraphInputs(
        num_users=USERS,
        num_items=ITEMS,
        edge_index=EDGES,
        user_x=torch.zeros(USERS, 0),
        item_x=torch.zeros(ITEMS, 0),
        edge_rating=torch.full((EDGES.shape[1],), float("nan")),
    )


@pytest.mark.parametrize(("alpha", "beta"), [(0.5, 0.5), (0.6, 0.3)])
def test_normalisation_is_d_alpha_a_d_beta(alpha: float, beta: float) -> None:
    matrix, transpose, degree = normalized_adjacency(EDGES, USERS, ITEMS, alpha, beta)
    adjacency = dense_adjacency()
    expected = torch.diag(degree.pow(-alpha)) @ adjacency @ torch.diag(degree.pow(-beta))
    assert torch.allclose(matrix.to_dense(), expected)
    assert torch.allclose(transpose.to_dense(), expected.T)
    assert degree.tolist() == [2, 1, 3, 2, 3, 1]
    if alpha == beta:
        assert torch.allclose(matrix.to_dense(), matrix.to_dense().T)


@pytest.mark.parametrize("gamma", [None, 0.3])
def test_propagation_and_pooling_match_dense_algebra(gamma: float | None) -> None:
    torch.manual_seed(0)
    module = LightGCNModule(USERS, ITEMS, embedding_dim=4, num_layers=2, gamma=gamma)
    users, items = module(graph())
    _, _, degree = normalized_adjacency(EDGES, USERS, ITEMS)
    norm = torch.diag(degree.rsqrt()) @ dense_adjacency() @ torch.diag(degree.rsqrt())
    e0 = torch.cat([module.user_emb.weight, module.item_emb.weight])
    e1, e2 = norm @ e0, norm @ norm @ e0
    final = (e0 + e1 + e2) / 3 if gamma is None else gamma * e0 + (1 - gamma) * (e1 + e2) / 2
    assert torch.allclose(torch.cat([users, items]), final, atol=1e-6)


def test_gradient_through_sparse_product_matches_dense() -> None:
    torch.manual_seed(1)
    module = LightGCNModule(USERS, ITEMS, embedding_dim=3, num_layers=2, alpha=0.7, beta=0.2)
    users, items = module(graph())
    (users.sum() + (items**2).sum()).backward()
    sparse_grad = module.user_emb.weight.grad.clone()

    matrix, _, _ = normalized_adjacency(EDGES, USERS, ITEMS, 0.7, 0.2)
    dense = matrix.to_dense()
    e0 = torch.cat([module.user_emb.weight, module.item_emb.weight]).detach().requires_grad_()
    final = (e0 + dense @ e0 + dense @ dense @ e0) / 3
    (final[:USERS].sum() + (final[USERS:] ** 2).sum()).backward()
    assert torch.allclose(sparse_grad, e0.grad[:USERS], atol=1e-6)


def test_layer_and_output_normalisation() -> None:
    torch.manual_seed(2)
    module = LightGCNModule(USERS, ITEMS, num_layers=1, normalize_output=True)
    users, items = module(graph())
    assert torch.allclose(torch.cat([users, items]).norm(dim=1), torch.ones(USERS + ITEMS))
    layered = LightGCNModule(USERS, ITEMS, num_layers=1, normalize_layers=True)
    e0, e1 = layered.layers(graph())
    matrix, _, _ = normalized_adjacency(EDGES, USERS, ITEMS)
    expected = matrix.to_dense() @ torch.nn.functional.normalize(e0, dim=1)
    assert torch.allclose(e1, expected, atol=1e-6)
    assert layered.item_degree.tolist() == [2, 3, 1]


def test_noise_perturbs_every_layer_away_from_zero() -> None:
    module = LightGCNModule(USERS, ITEMS, num_layers=2)
    clean = module.layers(graph())
    noisy = module.layers(graph(), noise=0.1)
    assert torch.equal(clean[0], noisy[0])
    assert not torch.allclose(clean[2], noisy[2])
    shift = noisy[1] - clean[1]  # the first layer differs by the noise alone
    assert torch.allclose(shift.norm(dim=1), torch.full((USERS + ITEMS,), 0.1), atol=1e-5)
    assert (torch.sign(noisy[1]) == torch.sign(clean[1])).all()
    assert (noisy[1].abs() >= clean[1].abs()).all()


@pytest.fixture(scope="module")
def fitted() -> LightGCN:
    train = {"loss": "softmax", "epochs": 10, "lr": 0.05, "temperature": 0.2}
    train["extra"] = {"threads": 1}
    return LightGCN(embedding_dim=8, num_layers=2, gamma=0.2, train=train).fit(grouped_data())


def test_fit_ranks_each_users_group_first(fitted: LightGCN) -> None:
    metrics = RankingValidator(grouped_data(), split="test", ks=(4,))(fitted.score)
    assert metrics["recall@4"] > 0.9


def test_save_load_roundtrip(fitted: LightGCN, tmp_path: Path) -> None:
    fitted.save(tmp_path / "model")
    loaded = Recommender.load(tmp_path / "model")
    assert isinstance(loaded, LightGCN) and model_class("lightgcn") is LightGCN
    assert loaded.get_params() == fitted.get_params()
    users = torch.arange(5)
    assert torch.equal(loaded.score(users), fitted.score(users))
    assert torch.equal(loaded.module_.item_degree, fitted.module_.item_degree)


def test_new_users_fold_in_from_their_history(fitted: LightGCN) -> None:
    histories = [torch.tensor([0, 1, 2]), torch.tensor([11, 12, 13, 11]), torch.tensor([])]
    scores = fitted.score_new_users(torch.zeros(3, 0), histories)
    assert scores.shape == (3, 20) and torch.isfinite(scores).all()
    assert scores[0, :10].mean() > scores[0, 10:].mean()  # group 0 items first
    assert scores[1, 10:].mean() > scores[1, :10].mean()
    assert torch.allclose(scores[2], fitted.score(torch.arange(24)).mean(dim=0), atol=1e-5)


@pytest.mark.parametrize("params", [{"gamma": 1.5}, {"embedding_dim": 0}, {"num_layers": -1}])
def test_bad_hyperparameters(params: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        LightGCN(**params)


def test_item_bias_is_one_more_embedding_column() -> None:
    module = LightGCNModule(USERS, ITEMS, embedding_dim=4, normalize_output=True, item_bias=True)
    with torch.no_grad():
        module.bias.copy_(torch.tensor([0.5, -1.0, 2.0]))
    users, items = module(graph())
    assert users.shape == (USERS, 5) and items.shape == (ITEMS, 5)
    cosine = users[:, :4] @ items[:, :4].T
    assert torch.allclose(module.score_all(users, items), cosine + module.bias, atol=1e-6)
    folded = module.fold_in(items, [torch.tensor([0, 2])])
    assert folded.shape == (1, 5) and folded[0, 4] == 1.0
    assert torch.allclose(folded[0, :4].norm(), torch.tensor(1.0))


@pytest.mark.realdata
def test_real_movielens_beats_popularity(real_dataset, tmp_path: Path) -> None:
    real_dataset("ml-100k")
    prepare("ml-100k", tmp_path / "g", load_settings())
    data = InteractionData.from_artifacts(tmp_path / "g")
    train = {"loss": "softmax", "temperature": 0.2, "batch_size": 256, "epochs": 15}
    model = LightGCN(embedding_dim=32, normalize_output=True, train={**train, "lr": 0.02})
    model.fit(data)
    popularity = data.item_popularity()
    validator = RankingValidator(data, split="test", ks=(20,))
    learned = validator(model.score)["recall@20"]
    popular = validator(lambda users: popularity.expand(len(users), -1))["recall@20"]
    assert learned > 1.5 * popular
