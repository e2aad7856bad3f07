"""GAT: the reusable encoder on a homogeneous graph, and the user-item recommender."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from storex.errors import ConfigError
from storex.models.base import Recommender
from storex.models.data import InteractionData
from storex.models.gat import GATEncoder, GATModel, GATModule
from storex.models.neural import GraphInputs
from storex.models.registry import model_class
from tests.models.contract_models import TINY_TRAINING, checkerboard

TRAIN = {**TINY_TRAINING, "seed": 1}
SMALL = {"embedding_dim": 16, "heads": 2, "train": TRAIN}


def item_graph() -> tuple[torch.Tensor, torch.Tensor]:
    """A ring of 6 items, both directions."""
    ring = torch.arange(6)
    forward = torch.stack([ring, (ring + 1) % 6])
    return torch.cat([forward, forward.flip(0)], dim=1), torch.rand(12)


@pytest.mark.parametrize("v2", [False, True])
def test_encoder_on_a_homogeneous_graph(v2: bool) -> None:
    torch.manual_seed(0)
    edge_index, weight = item_graph()
    encoder = GATEncoder(5, 8, heads=4, layers=3, out_dim=3, v2=v2, edge_weights=True)
    encoder.eval()
    x = torch.randn(6, 5)
    out = encoder(x, edge_index, weight)
    assert out.shape == (6, 3) and torch.isfinite(out).all()
    assert not torch.allclose(out, encoder(x, edge_index, weight.flip(0)))
    out.sum().backward()
    assert all(p.grad is not None for p in encoder.parameters() if p.requires_grad)


def test_encoder_neighbourhood_is_local() -> None:
    """With one layer, a node's output depends on its neighbours only."""
    torch.manual_seed(0)
    edge_index, _ = item_graph()
    encoder = GATEncoder(4, 4, heads=2, layers=1).eval()
    x = torch.randn(6, 4)
    changed = x.clone()
    changed[3] += 5.0  # neighbours of item 3 are items 2 and 4
    moved = (encoder(x, edge_index) - encoder(changed, edge_index)).abs().sum(dim=1) > 1e-6
    assert moved.tolist() == [False, False, True, True, True, False]


def test_encoder_checks_its_arguments() -> None:
    edge_index, weight = item_graph()
    with pytest.raises(ConfigError, match="multiple of heads"):
        GATEncoder(4, 10, heads=4)
    with pytest.raises(ConfigError, match="pass edge_weight"):
        GATEncoder(4, 8, edge_weights=True)(torch.randn(6, 4), edge_index)
    with pytest.raises(ConfigError, match="edge_weights=False"):
        GATEncoder(4, 8)(torch.randn(6, 4), edge_index, weight)


def test_registered_and_repr() -> None:
    model = GATModel(heads=8, v2=True)
    assert model_class("gat") is GATModel
    text = repr(model)
    assert text.startswith("GATModel(") and "heads=8" in text and "v2=True" in text
    assert GATModel(**model.get_params()).model_params() == model.model_params()


@pytest.mark.parametrize("head", ["dot", "mlp"])
def test_forward_shapes(head: str) -> None:
    data = checkerboard()
    module = GATModel(embedding_dim=8, heads=2, head=head).build_module(data.spec).eval()
    assert isinstance(module, GATModule)
    graph = GraphInputs(
        data.num_users, data.num_items, data.train, data.user_x, data.item_x, torch.empty(0)
    )
    user_emb, item_emb = module(graph)
    assert user_emb.shape == (data.num_users, 8) and item_emb.shape == (data.num_items, 8)
    scores = module.score_all(user_emb, item_emb)
    assert scores.shape == (data.num_users, data.num_items)
    torch.testing.assert_close(module.score_pairs(user_emb[:4], item_emb[:4]), scores.diag()[:4])


@pytest.fixture(scope="module")
def fitted() -> tuple[InteractionData, GATModel]:
    data = checkerboard()
    return data, GATModel(**SMALL).fit(data)


def test_fits_the_planted_preference(fitted: tuple[InteractionData, GATModel]) -> None:
    data, model = fitted
    losses = [record["loss"] for record in model.history_]
    assert losses[-1] < 0.5 * losses[0]
    users = torch.arange(data.num_users)
    top, _ = model.recommend(users, k=1, exclude=data.matrix("train", "valid"))
    assert torch.equal(top[:, 0], data.test[1])


def test_new_users_equal_the_model_run_on_the_grown_graph(
    fitted: tuple[InteractionData, GATModel],
) -> None:
    data, model = fitted
    histories = [torch.tensor([0, 1, 2]), torch.tensor([12, 15])]
    scores = model.score_new_users(torch.zeros(2, 0), histories)
    module = model.module_
    for row, items in enumerate(histories):
        # The grown graph gets one more user whose id embedding is zero (it has none).
        new = torch.full_like(items, data.num_users)
        grown = GraphInputs(
            data.num_users + 1,
            data.num_items,
            torch.cat([data.train, torch.stack([new, items])], dim=1),
            torch.zeros(data.num_users + 1, 0),
            data.item_x,
            torch.empty(0),
        )
        with torch.no_grad(), zero_row_appended(module.user_input.embedding):
            user_emb, item_emb = module(grown)
            expected = module.score_all(user_emb[-1:], item_emb)[0]
        torch.testing.assert_close(scores[row], expected, atol=1e-5, rtol=1e-5)
        unseen = scores[row].clone()
        unseen[items] = -torch.inf
        own = range(8) if row == 0 else range(8, 16)
        assert set(torch.topk(unseen, 3).indices.tolist()) <= set(own)


@contextmanager
def zero_row_appended(table: torch.nn.Embedding) -> Iterator[None]:
    """Temporarily give an embedding table one more, all-zero row (a node without an id)."""
    weight = table.weight
    table.weight = torch.nn.Parameter(torch.cat([weight, torch.zeros(1, weight.shape[1])]))
    try:
        yield
    finally:
        table.weight = weight


def test_save_load_round_trip(fitted: tuple[InteractionData, GATModel], tmp_path: Path) -> None:
    data, model = fitted
    model.save(tmp_path / "gat")
    loaded = Recommender.load(tmp_path / "gat")
    assert isinstance(loaded, GATModel) and loaded.get_params() == model.get_params()
    users = torch.arange(data.num_users)
    assert torch.equal(loaded.score(users), model.score(users))
    histories = [torch.tensor([3, 4])]
    assert torch.equal(
        loaded.score_new_users(torch.zeros(1, 0), histories),
        model.score_new_users(torch.zeros(1, 0), histories),
    )
