"""NCF / NeuMF: the fused towers, NCF's training defaults, block scoring, fitting, saving."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from storex.errors import ConfigError
from storex.models import layers
from storex.models.base import Recommender
from storex.models.data import InteractionData
from storex.models.ncf import NCFModel, NCFModule
from storex.models.neural import GraphInputs, TrainConfig
from storex.models.registry import model_class
from tests.models.contract_models import checkerboard

TRAIN = {"epochs": 40, "batch_size": 64, "lr": 0.02, "patience": 100, "extra": {"threads": 1}}


def test_defaults_follow_the_paper() -> None:
    model = NCFModel()
    assert model.train.loss == "bce" and model.train.negatives == 4
    assert model.mlp_layers == (64, 32, 16, 8)
    assert NCFModel(train={"epochs": 3}).train.loss == "bce"  # unset fields keep NCF's recipe
    assert NCFModel(train={"negatives": 2}).train.negatives == 2
    assert NCFModel(train=TrainConfig(loss="bpr")).train.loss == "bpr"


def test_registered_and_repr() -> None:
    model = NCFModel(factors=16, mlp_layers=(32, 16))
    assert model_class("ncf") is NCFModel
    text = repr(model)
    assert text.startswith("NCFModel(") and "factors=16" in text and "mlp_layers=[32, 16]" in text


def test_bad_layers_raise() -> None:
    spec = checkerboard().spec
    with pytest.raises(ConfigError, match="even"):
        NCFModel(mlp_layers=(15, 8)).build_module(spec)
    with pytest.raises(ConfigError, match="hidden layer"):
        NCFModel(mlp_layers=(16,)).build_module(spec)


def test_forward_shapes_and_all_pairs_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    data = checkerboard()
    module = NCFModel(factors=4, mlp_layers=(8, 6, 3)).build_module(data.spec)
    assert isinstance(module, NCFModule)
    graph = GraphInputs(
        data.num_users, data.num_items, data.train, data.user_x, data.item_x, torch.empty(0)
    )
    user_emb, item_emb = module(graph)
    assert user_emb.shape == (data.num_users, 4 + 4) and item_emb.shape == (data.num_items, 8)
    for table in (module.gmf_user, module.mlp_user, module.gmf_item, module.mlp_item):
        table.weight.data.normal_()  # larger than the init, so towers matter
    user_emb, item_emb = module(graph)
    monkeypatch.setattr(layers, "PAIR_BLOCK_ELEMENTS", 50)  # many item blocks
    with torch.no_grad():
        scores = module.score_all(user_emb, item_emb)
        users = torch.arange(data.num_users).repeat_interleave(data.num_items)
        items = torch.arange(data.num_items).repeat(data.num_users)
        pairs = module.score_pairs(user_emb[users], item_emb[items])
    torch.testing.assert_close(scores.reshape(-1), pairs, atol=1e-5, rtol=1e-5)
    # Both towers contribute to the score.
    mlp_only = module.tower(user_emb[users, 4:], item_emb[items, 4:])
    assert not torch.allclose(pairs, mlp_only)


@pytest.fixture(scope="module")
def fitted() -> tuple[InteractionData, NCFModel]:
    data = checkerboard()
    return data, NCFModel(factors=8, mlp_layers=(16, 8), train=TRAIN).fit(data)


def test_fits_the_planted_preference(fitted: tuple[InteractionData, NCFModel]) -> None:
    data, model = fitted
    losses = [record["loss"] for record in model.history_]
    assert losses[-1] < 0.5 * losses[0]
    users = torch.arange(data.num_users)
    top, _ = model.recommend(users, k=1, exclude=data.matrix("train", "valid"))
    assert torch.equal(top[:, 0], data.test[1])


def test_sigmoid_of_the_score_is_a_probability() -> None:
    """Trained to the end with log loss (no validation to stop early), ``sigmoid(score)``
    separates a user's own half of the catalogue from the other half."""
    data = checkerboard()
    data.valid = torch.empty(2, 0, dtype=torch.long)
    model = NCFModel(factors=8, mlp_layers=(16, 8), train=TRAIN).fit(data)
    probability = torch.sigmoid(model.score(torch.arange(data.num_users)))
    own = torch.from_numpy(data.matrix("train", "test").toarray()).bool()
    assert probability[own].mean() > 0.7 and probability[~own].mean() < 0.3


def test_fit_is_reproducible() -> None:
    data = checkerboard()
    scores = []
    for state in (123, 456):
        torch.manual_seed(state)
        model = NCFModel(factors=4, mlp_layers=(8, 4), dropout=0.2, train={**TRAIN, "epochs": 4})
        scores.append(model.fit(data).score(torch.arange(data.num_users)))
    assert torch.equal(scores[0], scores[1])


def test_cold_users_are_not_supported(fitted: tuple[InteractionData, NCFModel]) -> None:
    _, model = fitted
    with pytest.raises(NotImplementedError):
        model.score_new_users(torch.zeros(1, 0), [torch.tensor([0])])


def test_save_load_round_trip(fitted: tuple[InteractionData, NCFModel], tmp_path: Path) -> None:
    data, model = fitted
    model.save(tmp_path / "ncf")
    loaded = Recommender.load(tmp_path / "ncf")
    assert isinstance(loaded, NCFModel) and loaded.get_params() == model.get_params()
    assert loaded.train.loss == "bce" and loaded.train.negatives == 4
    users = torch.arange(data.num_users)
    assert torch.equal(loaded.score(users), model.score(users))
