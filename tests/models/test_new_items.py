"""The new-item contract of the user-item GNNs: items embedded from their features alone.

On the checkerboard with item features that say the item's half (books or music) plus a
little noise, so every item is distinct but only the half carries signal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from storex.errors import ConfigError, DataError
from storex.models.base import Recommender
from storex.models.baselines import EASE
from storex.models.bipartite import BipartiteRecommender
from storex.models.data import InteractionData
from storex.models.gat import GATModel
from storex.models.graphsage import GraphSAGEModel
from tests.models.contract_models import ITEMS_PER_GROUP, TINY_TRAINING, checkerboard

TRAIN = {**TINY_TRAINING, "seed": 1}

MODELS: dict[str, Callable[..., BipartiteRecommender]] = {
    "graphsage": lambda **kw: GraphSAGEModel(embedding_dim=16, train=TRAIN, **kw),
    "graphsage-mean-2": lambda **kw: GraphSAGEModel(
        embedding_dim=16, num_layers=2, layer_pooling="mean", batch_norm=True, train=TRAIN, **kw
    ),
    "gat": lambda **kw: GATModel(embedding_dim=16, heads=2, train=TRAIN, **kw),
}


def half_of(items: torch.Tensor) -> torch.Tensor:
    return (items >= ITEMS_PER_GROUP).long()


def item_features(items: torch.Tensor, noise: float = 0.05, seed: int = 0) -> torch.Tensor:
    """Two one-hot columns for the item's half, plus noise so no two items are equal."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.nn.functional.one_hot(half_of(items), 2).float()
    return features + noise * torch.randn(features.shape, generator=generator)


def with_item_features(data: InteractionData) -> InteractionData:
    data.item_x = item_features(torch.arange(data.num_items))
    return data


@pytest.fixture(scope="module", params=sorted(MODELS))
def fitted(request: pytest.FixtureRequest) -> BipartiteRecommender:
    return MODELS[request.param](new_item_rate=0.3).fit(with_item_features(checkerboard()))


def scores_of_new(model: Recommender, item_x: torch.Tensor) -> torch.Tensor:
    users = torch.arange(model.num_users_)
    return model.score_new_items(model.user_states(users), model.embed_new_items(item_x))


def test_new_item_states_have_the_embedding_shape_and_are_finite(
    fitted: BipartiteRecommender,
) -> None:
    states = fitted.embed_new_items(item_features(torch.tensor([0, 9, 3]), seed=5))
    assert states.shape == (3, 16) and torch.isfinite(states).all()
    scores = fitted.score_new_items(fitted.user_states(torch.tensor([0, 19])), states)
    assert scores.shape == (2, 3) and torch.isfinite(scores).all()


def test_a_state_does_not_depend_on_the_other_new_items(fitted: BipartiteRecommender) -> None:
    x = item_features(torch.tensor([0, 9, 3]), seed=5)
    together = fitted.embed_new_items(x)
    alone = torch.cat([fitted.embed_new_items(x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(together, alone)


def test_new_item_with_planted_half_goes_to_the_users_of_that_half(
    fitted: BipartiteRecommender,
) -> None:
    """A new book must outscore a new record for book readers, and the reverse for music
    listeners: far above chance (half of the users either way)."""
    scores = scores_of_new(fitted, item_features(torch.tensor([0, ITEMS_PER_GROUP]), seed=7))
    user_half = (torch.arange(fitted.num_users_) >= fitted.num_users_ // 2).long()
    prefers_own = (
        scores[torch.arange(fitted.num_users_), user_half]
        > scores[torch.arange(fitted.num_users_), 1 - user_half]
    )
    assert prefers_own.float().mean() >= 0.9


def test_a_copy_of_a_training_items_features_ranks_users_like_that_item(
    fitted: BipartiteRecommender,
) -> None:
    """Fed a training item's own features, the new-item path must put that item's own half
    of the users first, as the trained item does."""
    data = with_item_features(checkerboard())
    users = torch.arange(fitted.num_users_)
    for item in (2, ITEMS_PER_GROUP + 5):
        copy = scores_of_new(fitted, data.item_x[item : item + 1])[:, 0]
        trained = fitted.score(users)[:, item]
        own = (users >= fitted.num_users_ // 2).long() == int(half_of(torch.tensor(item)))
        assert copy[own].min() > copy[~own].max()
        assert torch.corrcoef(torch.stack([copy, trained]))[0, 1] > 0.8


def test_user_states_reproduce_the_trained_and_folded_in_scores(
    fitted: BipartiteRecommender,
) -> None:
    users = torch.tensor([1, 12])
    item_emb = fitted.item_vectors()
    assert item_emb is not None
    torch.testing.assert_close(
        fitted.score_new_items(fitted.user_states(users), item_emb), fitted.score(users)
    )
    history = [torch.tensor([0, 1, 2]), torch.empty(0, dtype=torch.long)]
    scores, states = fitted.score_new_users_with_states(torch.zeros(2, 0), history)
    torch.testing.assert_close(scores, fitted.score_new_users(torch.zeros(2, 0), history))
    others = torch.arange(3, fitted.num_items_)  # history items score with their own copies
    torch.testing.assert_close(
        fitted.score_new_items(states, item_emb[others]), scores[:, others], atol=1e-5, rtol=1e-5
    )


def test_bad_new_item_features_raise_naming_the_row() -> None:
    model = MODELS["graphsage"]().fit(with_item_features(checkerboard()))
    with pytest.raises(DataError, match="expected"):
        model.embed_new_items(torch.zeros(1, 3))
    bad = torch.zeros(2, 2)
    bad[1, 0] = float("nan")
    with pytest.raises(DataError, match=r"line 1.*row 1, column 0"):
        model.embed_new_items(bad)


def test_without_item_features_new_items_are_unsupported() -> None:
    model = MODELS["graphsage"]().fit(checkerboard())
    with pytest.raises(NotImplementedError, match="without item features"):
        model.embed_new_items(torch.zeros(1, 0))
    with pytest.raises(ConfigError, match="new_item_rate needs item features"):
        MODELS["graphsage"](new_item_rate=0.2).fit(checkerboard())
    with pytest.raises(ConfigError, match="new_item_rate"):
        MODELS["gat"](new_item_rate=1.0).fit(with_item_features(checkerboard()))


def test_new_item_rate_changes_training_and_survives_saving(tmp_path: Path) -> None:
    data = with_item_features(checkerboard())
    plain = MODELS["graphsage"]().fit(data)
    simulated = MODELS["graphsage"](new_item_rate=0.3).fit(data)
    x = item_features(torch.tensor([4]), seed=9)
    assert not torch.allclose(plain.embed_new_items(x), simulated.embed_new_items(x))
    simulated.save(tmp_path)
    loaded = Recommender.load(tmp_path)
    assert loaded.get_params()["new_item_rate"] == 0.3
    torch.testing.assert_close(loaded.embed_new_items(x), simulated.embed_new_items(x))


def test_models_without_the_path_refuse() -> None:
    model = EASE(l2=1.0).fit(with_item_features(checkerboard()))
    for call in (
        lambda: model.embed_new_items(torch.zeros(1, 2)),
        lambda: model.user_states(torch.tensor([0])),
        lambda: model.score_new_items(torch.zeros(1, 2), torch.zeros(1, 2)),
        lambda: model.score_new_users_with_states(torch.zeros(1, 2), [torch.tensor([0])]),
    ):
        with pytest.raises(NotImplementedError):
            call()
