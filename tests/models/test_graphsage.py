"""GraphSAGE: shapes, fitting a planted preference, the inductive path, ratings, saving."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from storex.errors import ConfigError, DataError
from storex.models.base import Recommender
from storex.models.data import InteractionData
from storex.models.graphsage import GraphSAGEModel, GraphSAGEModule
from storex.models.neural import GraphInputs
from storex.models.registry import model_class
from tests.models.contract_models import TINY_TRAINING, checkerboard

TRAIN = {**TINY_TRAINING, "seed": 1}
SMALL = {"embedding_dim": 16, "train": TRAIN}


def graph_of(data: InteractionData) -> GraphInputs:
    return GraphInputs(
        data.num_users, data.num_items, data.train, data.user_x, data.item_x, data.train_rating
    )


def grouped_users(data: InteractionData, noise: float = 0.1, seed: int = 0) -> InteractionData:
    """``data`` with user features that say the user's group (two one-hot columns + noise)."""
    generator = torch.Generator().manual_seed(seed)
    group = (torch.arange(data.num_users) >= data.num_users // 2).long()
    features = torch.nn.functional.one_hot(group, 2).float()
    data.user_x = features + noise * torch.randn(features.shape, generator=generator)
    return data


def with_ratings(data: InteractionData) -> InteractionData:
    """Explicit ratings with structure: group-A users rate higher, even items rate higher."""
    users, items = data.train
    data.train_rating = 1.0 + 1.5 * (users < data.num_users // 2) + 2.0 * (items % 2 == 0)
    return data


def test_registered_and_repr() -> None:
    model = GraphSAGEModel(aggr="max", head="mlp", embedding_dim=8)
    assert model_class("graphsage") is GraphSAGEModel
    text = repr(model)
    assert text.startswith("GraphSAGEModel(") and "aggr='max'" in text and "head='mlp'" in text
    rebuilt = GraphSAGEModel(**model.get_params())
    assert rebuilt.get_params() == model.get_params()


@pytest.mark.parametrize("head", ["dot", "mlp"])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_forward_shapes_and_heads_agree(head: str, batch_norm: bool) -> None:
    data = grouped_users(checkerboard())
    model = GraphSAGEModel(embedding_dim=8, head=head, batch_norm=batch_norm, rating_head=True)
    module = model.build_module(data.spec)
    assert isinstance(module, GraphSAGEModule)
    module.eval()
    user_emb, item_emb = module(graph_of(data))
    assert user_emb.shape == (data.num_users, 8) and item_emb.shape == (data.num_items, 8)
    everything = module.score_all(user_emb, item_emb)
    assert everything.shape == (data.num_users, data.num_items)
    users, items = torch.tensor([0, 3, 19]), torch.tensor([5, 0, 15])
    pairs = module.score_pairs(user_emb[users], item_emb[items])
    torch.testing.assert_close(pairs, everything[users, items])
    assert module.predict_rating(user_emb[users], item_emb[items]).shape == (3,)


@pytest.mark.parametrize("aggr", ["mean", "sum"])
def test_sparse_aggregation_equals_edge_messages(aggr: str) -> None:
    """Checkerboard has more users than items: the neighbour weight acts before aggregation
    towards users and after it towards items, both as SAGEConv does on edges."""
    data = checkerboard()
    module = GraphSAGEModel(embedding_dim=8, aggr=aggr).build_module(data.spec).eval()
    graph = graph_of(data)
    fast = module(graph)
    module.edges = lambda g: {"to_item": g.edge_index, "to_user": g.edge_index.flip(0)}
    slow = module(graph)
    torch.testing.assert_close(fast, slow)


@pytest.mark.parametrize("normalize_output", [False, True])
def test_layer_pooling_sets_the_final_embeddings(normalize_output: bool) -> None:
    """``last`` keeps the last layer's states, ``mean`` averages every layer's, input included;
    unit length comes after pooling."""
    data = grouped_users(checkerboard())
    graph = graph_of(data)
    outputs = {}
    for pooling in ("last", "mean"):
        model = GraphSAGEModel(
            embedding_dim=8, num_layers=2, layer_pooling=pooling, normalize_output=normalize_output
        )
        torch.manual_seed(0)
        module = model.build_module(data.spec).eval()
        with torch.no_grad():
            states = module.layer_states(graph)
            outputs[pooling] = module(graph)
        assert len(states) == 3
        for side in (0, 1):
            layers = torch.stack([state[side] for state in states])
            pooled = layers[-1] if pooling == "last" else layers.mean(0)
            if normalize_output:
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            torch.testing.assert_close(outputs[pooling][side], pooled)
    assert not torch.allclose(outputs["last"][0], outputs["mean"][0])
    assert not torch.allclose(outputs["last"][1], outputs["mean"][1])


def test_bad_configuration_raises() -> None:
    data = checkerboard()
    with pytest.raises(ConfigError, match="aggr"):
        GraphSAGEModel(aggr="median").build_module(data.spec)
    with pytest.raises(ConfigError, match="layer_pooling"):
        GraphSAGEModel(layer_pooling="max").build_module(data.spec)
    with pytest.raises(ConfigError, match="ids"):
        GraphSAGEModel(user_ids=False).build_module(data.spec)  # no user features either
    with pytest.raises(ConfigError, match="rating_head"):
        GraphSAGEModel(rating_head=True, **SMALL).fit(data)  # implicit data


@pytest.fixture(scope="module")
def planted() -> dict[str, GraphSAGEModel]:
    data = checkerboard()
    return {
        "dot": GraphSAGEModel(**SMALL).fit(data),
        "mlp": GraphSAGEModel(head="mlp", **SMALL).fit(data),
        "sampled": GraphSAGEModel(
            embedding_dim=16, train={**TRAIN, "mode": "sampled", "num_neighbors": (5, 5)}
        ).fit(data),
    }


@pytest.mark.parametrize("case", ["dot", "mlp", "sampled"])
def test_fits_the_planted_preference(planted: dict[str, GraphSAGEModel], case: str) -> None:
    data, model = checkerboard(), planted[case]
    losses = [record["loss"] for record in model.history_]
    assert losses[-1] < 0.5 * losses[0]
    top, _ = model.recommend(
        torch.arange(data.num_users), k=1, exclude=data.matrix("train", "valid")
    )
    assert torch.equal(top[:, 0], data.test[1])


def test_fit_is_reproducible() -> None:
    """Same seed, same model, whatever the global random state when it was built."""
    data = grouped_users(checkerboard())
    scores = []
    for state in (123, 456):
        torch.manual_seed(state)
        model = GraphSAGEModel(
            embedding_dim=8, head="mlp", dropout=0.2, id_dropout=0.2, train={**TRAIN, "epochs": 4}
        ).fit(data)
        scores.append(model.score(torch.arange(data.num_users)))
    assert torch.equal(scores[0], scores[1])


def test_new_user_from_history_alone() -> None:
    """A user never seen in training, without features, is embedded from its items."""
    data = checkerboard()
    model = GraphSAGEModel(id_dropout=0.5, **SMALL).fit(data)
    histories = [torch.tensor([0, 1, 2]), torch.tensor([8, 9, 10])]
    scores = model.score_new_users(torch.zeros(2, 0), histories)
    for row, history in enumerate(histories):
        unseen = scores[row].clone()
        unseen[history] = -torch.inf
        own_group = set(range(8)) if row == 0 else set(range(8, 16))
        assert set(torch.topk(unseen, 5).indices.tolist()) <= own_group


def test_new_user_from_features_alone() -> None:
    """Features carry the group: a cold user with no history is ranked by them."""
    data = grouped_users(checkerboard())
    model = GraphSAGEModel(id_dropout=0.5, **SMALL).fit(data)
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    scores = model.score_new_users(features, [torch.tensor([]), torch.tensor([])])
    top_a, top_b = torch.topk(scores, 8, dim=1).indices
    assert set(top_a.tolist()) == set(range(8))
    assert set(top_b.tolist()) == set(range(8, 16))


@pytest.fixture(scope="module")
def inductive() -> tuple[InteractionData, GraphSAGEModel]:
    """Users are their features (no id embeddings), so a re-added user is the same node."""
    data = grouped_users(checkerboard(), noise=0.5)
    return data, GraphSAGEModel(user_ids=False, **SMALL).fit(data)


@pytest.mark.parametrize(
    ("aggr", "num_layers", "layer_pooling", "normalize_output"),
    [
        ("mean", 2, "last", False),
        ("sum", 1, "last", False),
        ("max", 2, "last", False),
        ("mean", 2, "mean", True),
        ("sum", 2, "mean", False),
        ("max", 1, "mean", True),
    ],
)
def test_new_users_equal_the_model_run_on_the_grown_graph(
    aggr: str, num_layers: int, layer_pooling: str, normalize_output: bool
) -> None:
    data = grouped_users(checkerboard(), noise=0.5)
    train = {**TRAIN, "epochs": 3}
    model = GraphSAGEModel(
        aggr=aggr,
        num_layers=num_layers,
        user_ids=False,
        batch_norm=True,
        embedding_dim=8,
        layer_pooling=layer_pooling,
        normalize_output=normalize_output,
        train=train,
    ).fit(data)
    features = torch.tensor([[0.9, 0.2], [-0.3, 1.1], [0.5, 0.5]])
    histories = [torch.tensor([0, 2, 2, 5]), torch.tensor([9]), torch.tensor([], dtype=torch.long)]
    scores = model.score_new_users(features, histories)
    module = model.module_
    for row, history in enumerate(histories):
        # The whole model on the training graph plus this one user and its edges.
        items = torch.unique(history)
        new = torch.full_like(items, data.num_users)
        grown = GraphInputs(
            data.num_users + 1,
            data.num_items,
            torch.cat([data.train, torch.stack([new, items])], dim=1),
            torch.cat([data.user_x, features[row : row + 1]]),
            data.item_x,
            torch.empty(0),
        )
        with torch.no_grad():
            user_emb, item_emb = module(grown)
            expected = module.score_all(user_emb[-1:], item_emb)[0]
        torch.testing.assert_close(scores[row], expected, atol=1e-5, rtol=1e-5)
    alone = model.score_new_users(features[1:2], histories[1:2])
    torch.testing.assert_close(alone[0], scores[1])


def test_readded_user_scores_as_in_training(
    inductive: tuple[InteractionData, GraphSAGEModel],
) -> None:
    data, model = inductive
    users = torch.arange(data.num_users)
    histories = [data.train[1][data.train[0] == user] for user in users.tolist()]
    again = model.score_new_users(data.user_x, histories)
    before = model.score(users)
    seen = torch.from_numpy(data.matrix("train").toarray()).bool()
    gap = (again - before).abs()[~seen]
    assert gap.max() < 0.1 * before.abs().mean()
    best_again = again.masked_fill(seen, -torch.inf).argmax(dim=1)
    assert torch.equal(best_again, before.masked_fill(seen, -torch.inf).argmax(dim=1))


def test_bad_new_user_input_raises(inductive: tuple[InteractionData, GraphSAGEModel]) -> None:
    _, model = inductive
    with pytest.raises(DataError, match="shape"):
        model.score_new_users(torch.zeros(2, 3), [torch.tensor([0]), torch.tensor([1])])
    with pytest.raises(DataError, match="item index 99"):
        model.score_new_users(torch.zeros(1, 2), [torch.tensor([0, 99])])
    with pytest.raises(DataError, match="non-integer"):
        model.score_new_users(torch.zeros(1, 2), [torch.tensor([0.5])])


def test_rating_head_learns_ratings() -> None:
    data = with_ratings(checkerboard())
    train = {**TRAIN, "rating_weight": 1.0}
    model = GraphSAGEModel(embedding_dim=16, rating_head=True, train=train).fit(data)
    users, items = data.train
    error = model.predict_ratings(users, items) - data.train_rating
    assert error.pow(2).mean().sqrt() < 0.3 * data.train_rating.std()
    with pytest.raises(DataError):
        model.predict_ratings(users[:3], items[:2])


def test_predict_ratings_without_head_raises(planted: dict[str, GraphSAGEModel]) -> None:
    with pytest.raises(NotImplementedError, match="rating head"):
        planted["dot"].predict_ratings(torch.tensor([0]), torch.tensor([0]))


def test_save_load_round_trip(tmp_path: Path) -> None:
    data = with_ratings(grouped_users(checkerboard()))
    train = {**TRAIN, "epochs": 5, "rating_weight": 0.5}
    model = GraphSAGEModel(
        embedding_dim=8, head="mlp", batch_norm=True, rating_head=True, train=train
    ).fit(data)
    model.save(tmp_path / "sage")
    loaded = Recommender.load(tmp_path / "sage")
    assert isinstance(loaded, GraphSAGEModel) and loaded.get_params() == model.get_params()
    users = torch.arange(data.num_users)
    assert torch.equal(loaded.score(users), model.score(users))
    pairs = data.train[:, :10]
    assert torch.equal(loaded.predict_ratings(*pairs), model.predict_ratings(*pairs))
    features, histories = torch.randn(2, 2), [torch.tensor([1, 4]), torch.tensor([12])]
    assert torch.equal(
        loaded.score_new_users(features, histories), model.score_new_users(features, histories)
    )
