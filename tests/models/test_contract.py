"""The Recommender contract, checked on every model listed in ``CONTRACT_MODELS``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from storex.errors import NotFittedError
from storex.models.base import Recommender
from storex.models.data import InteractionData
from storex.models.registry import model_names
from tests.models.contract_models import CONTRACT_MODELS, ContractModel, checkerboard

PARAMS = [pytest.param(case, id=case.id) for case in CONTRACT_MODELS]
PERSONALISED = [pytest.param(case, id=case.id) for case in CONTRACT_MODELS if case.personalised]


@pytest.fixture(scope="module")
def data() -> InteractionData:
    return checkerboard()


@pytest.fixture(scope="module")
def fitted(data: InteractionData) -> dict[str, Recommender]:
    """Each model fitted once per module (fitting is the slow part for neural models)."""
    return {case.id: case.factory().fit(data) for case in CONTRACT_MODELS}


def all_users(data: InteractionData) -> torch.Tensor:
    return torch.arange(data.num_users)


@pytest.mark.parametrize("case", PARAMS)
def test_registered_under_its_name(case: ContractModel) -> None:
    assert case.factory().name in model_names()


@pytest.mark.parametrize("case", PARAMS)
def test_not_fitted_raises(case: ContractModel, tmp_path: Path) -> None:
    model = case.factory()
    users = torch.tensor([0, 1])
    with pytest.raises(NotFittedError):
        model.score(users)
    with pytest.raises(NotFittedError):
        model.recommend(users)
    with pytest.raises(NotFittedError):
        model.save(tmp_path / "model")


@pytest.mark.parametrize("case", PARAMS)
def test_repr_names_class_and_params(case: ContractModel) -> None:
    model = case.factory()
    text = repr(model)
    assert text.startswith(type(model).__name__ + "(")
    for key in model.get_params():
        assert f"{key}=" in text


@pytest.mark.parametrize("case", PARAMS)
def test_score_shape_and_finite(
    case: ContractModel, data: InteractionData, fitted: dict[str, Recommender]
) -> None:
    scores = fitted[case.id].score(torch.tensor([0, 5, 19]))
    assert scores.shape == (3, data.num_items)
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("case", PARAMS)
def test_recommend_excludes_seen_items(
    case: ContractModel, data: InteractionData, fitted: dict[str, Recommender]
) -> None:
    seen = data.matrix("train")
    users = all_users(data)
    items, scores = fitted[case.id].recommend(users, k=5, exclude=seen)
    assert items.shape == scores.shape == (data.num_users, 5)
    for user, row in zip(users.tolist(), items.tolist(), strict=True):
        assert not set(row) & set(seen[user].indices.tolist())
    assert (scores[:, :-1] >= scores[:, 1:]).all(), "recommendations must be best first"


@pytest.mark.parametrize("case", PARAMS)
def test_candidates_restrict_the_answer(
    case: ContractModel, data: InteractionData, fitted: dict[str, Recommender]
) -> None:
    candidates = torch.tensor([1, 4, 9, 12])
    items, scores = fitted[case.id].recommend(all_users(data), k=3, candidates=candidates)
    assert set(items.flatten().tolist()) <= set(candidates.tolist())
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("case", PARAMS)
def test_batch_equals_single_user(
    case: ContractModel, data: InteractionData, fitted: dict[str, Recommender]
) -> None:
    model, seen = fitted[case.id], data.matrix("train")
    users = torch.tensor([7, 0, 13, 2])
    batch_items, batch_scores = model.recommend(users, k=4, exclude=seen)
    for row, user in enumerate(users.tolist()):
        items, scores = model.recommend(torch.tensor([user]), k=4, exclude=seen)
        torch.testing.assert_close(scores[0], batch_scores[row])
        assert items[0].tolist() == batch_items[row].tolist()


@pytest.mark.parametrize("case", PARAMS)
def test_save_load_round_trip(
    case: ContractModel, data: InteractionData, fitted: dict[str, Recommender], tmp_path: Path
) -> None:
    model, seen = fitted[case.id], data.matrix("train")
    model.save(tmp_path / "model")
    loaded = Recommender.load(tmp_path / "model")
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    users = all_users(data)
    torch.testing.assert_close(loaded.score(users), model.score(users), rtol=0, atol=0)
    expected, _ = model.recommend(users, k=6, exclude=seen)
    got, _ = loaded.recommend(users, k=6, exclude=seen)
    assert got.tolist() == expected.tolist()


@pytest.mark.parametrize("case", PARAMS)
def test_score_new_users_shape_or_not_implemented(
    case: ContractModel, data: InteractionData, fitted: dict[str, Recommender]
) -> None:
    model = fitted[case.id]
    user_x = torch.zeros(2, data.user_x.shape[1])
    histories = [torch.tensor([0, 1, 2]), torch.tensor([], dtype=torch.long)]
    if not case.cold_start:
        with pytest.raises(NotImplementedError):
            model.score_new_users(user_x, histories)
        return
    scores = model.score_new_users(user_x, histories)
    assert scores.shape == (2, data.num_items)
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("case", PERSONALISED)
def test_held_out_items_come_first(
    case: ContractModel, data: InteractionData, fitted: dict[str, Recommender]
) -> None:
    model, users = fitted[case.id], all_users(data)
    top2, _ = model.recommend(users, k=2, exclude=data.matrix("train"))
    top1, _ = model.recommend(users, k=1, exclude=data.matrix("train", "valid"))
    for user in users.tolist():
        held_out = {int(data.valid[1, user]), int(data.test[1, user])}
        assert set(top2[user].tolist()) == held_out, f"user {user}"
        assert int(top1[user, 0]) == int(data.test[1, user]), f"user {user}"
