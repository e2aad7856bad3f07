"""Full-ranking evaluation: masks of both protocols, averaging, ratings, early-stop scorer."""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np
import pytest
import torch
from torch import Tensor

from storex.errors import ConfigError, EmptyDataError, ModelError, NotFittedError
from storex.evaluate import EvaluationResult, evaluate, quick_validator, score_validator
from storex.models.base import Recommender
from storex.models.data import InteractionData

LOG3 = math.log2(3)


class SameForAll(Recommender):
    """Every user gets the same item scores: item 0 best, then 1, 2, ... (no learning)."""

    name = "same_for_all"

    def __init__(self, rating: float | None = None) -> None:
        self.rating = rating

    def fit(self, data: InteractionData) -> Self:
        self.spec_ = data.spec
        self.scores_ = torch.arange(data.num_items, 0, -1).float()
        return self

    def score(self, users: Tensor) -> Tensor:
        return self.scores_.expand(len(users), -1)  # a view: the evaluator must not write it

    def get_params(self) -> dict[str, Any]:
        return {"rating": self.rating}

    def state(self) -> dict[str, Tensor]:
        return {"scores": self.scores_}

    def set_state(self, state: dict[str, Tensor]) -> None:
        self.scores_ = state["scores"]


class RatingModel(SameForAll):
    """Predicts the same rating for every pair."""

    def predict_ratings(self, users: Tensor, items: Tensor) -> Tensor:
        return torch.full((len(users),), float(self.rating))


def pairs(*edges: tuple[int, int]) -> Tensor:
    return torch.tensor(edges, dtype=torch.long).reshape(-1, 2).T.contiguous()


def tiny(test_rating: list[float] | None = None) -> InteractionData:
    """3 users x 5 items.

    user 0: train {0, 1}, valid {3}, test {4}
    user 1: train {2},    valid {3}, test {0, 4}
    user 2: train {0},    nothing held out
    """
    test = pairs((0, 4), (1, 0), (1, 4))
    return InteractionData(
        num_users=3,
        num_items=5,
        train=pairs((0, 0), (0, 1), (1, 2), (2, 0)),
        valid=pairs((0, 3), (1, 3)),
        test=test,
        train_rating=torch.full((4,), float("nan")),
        valid_rating=torch.full((2,), float("nan")),
        test_rating=torch.tensor(test_rating) if test_rating else torch.full((3,), float("nan")),
        user_x=torch.zeros(3, 0),
        item_x=torch.zeros(5, 0),
    )


def test_reference_protocol_masks_train_only() -> None:
    result = evaluate(SameForAll().fit(tiny()), tiny(), split="test", ks=(2,))
    # user 0: train {0,1} masked -> top-2 [2, 3]; truth {4}: no hit (valid item 3 stays in)
    # user 1: train {2} masked -> top-2 [0, 1]; truth {0, 4}: hit at rank 1
    #   recall 1/2, precision 1/2, ndcg = 1 / (1 + 1/log2 3), mrr 1
    # user 2: no test item -> skipped
    assert result.users == 2 and result.skipped_users == 1
    assert result["recall@2"] == pytest.approx((0 + 0.5) / 2)
    assert result["precision@2"] == pytest.approx((0 + 0.5) / 2)
    assert result["ndcg@2"] == pytest.approx((0 + 1 / (1 + 1 / LOG3)) / 2)
    assert result["hit_rate@2"] == pytest.approx(0.5)
    assert result["mrr@2"] == pytest.approx(0.5)
    # top-2 lists {2, 3} and {0, 1}: 4 of 5 items
    assert result["coverage@2"] == pytest.approx(4 / 5)


def test_strict_protocol_also_masks_valid_when_scoring_test() -> None:
    result = evaluate(SameForAll().fit(tiny()), tiny(), split="test", protocol="strict", ks=(2,))
    # user 0: {0, 1, 3} masked -> top-2 [2, 4]; hit at rank 2: recall 1, ndcg 1/log2 3, mrr 1/2
    # user 1: {2, 3} masked -> top-2 [0, 1]; as in the reference protocol
    assert result["recall@2"] == pytest.approx((1 + 0.5) / 2)
    assert result["ndcg@2"] == pytest.approx((1 / LOG3 + 1 / (1 + 1 / LOG3)) / 2)
    assert result["mrr@2"] == pytest.approx((0.5 + 1) / 2)
    assert result.protocol == "strict" and result.split == "test"


@pytest.mark.parametrize("protocol", ["reference", "strict"])
def test_valid_split_masks_train_only(protocol: str) -> None:
    result = evaluate(SameForAll().fit(tiny()), tiny(), split="valid", protocol=protocol, ks=(2,))
    # user 0: top-2 [2, 3], truth {3}: recall 1; user 1: top-2 [0, 1], truth {3}: 0
    assert result["recall@2"] == pytest.approx(0.5)
    assert result.users == 2


def test_batches_and_user_subsets() -> None:
    model, data = SameForAll().fit(tiny()), tiny()
    whole = evaluate(model, data, ks=(1, 2, 3))
    assert evaluate(model, data, ks=(1, 2, 3), batch_size=1).metrics == whole.metrics
    only_one = evaluate(model, data, ks=(2,), users=torch.tensor([1, 2]))
    assert only_one.users == 1 and only_one.skipped_users == 1
    assert only_one["recall@2"] == pytest.approx(0.5)
    assert torch.equal(model.scores_, torch.arange(5, 0, -1).float())  # state untouched
    with pytest.raises(EmptyDataError):
        evaluate(model, data, users=np.array([2]))
    with pytest.raises(ConfigError):
        evaluate(model, data, users=np.array([3]))


def test_rating_metrics_when_the_model_predicts_ratings() -> None:
    data = tiny(test_rating=[4.0, 2.0, 5.0])
    result = evaluate(RatingModel(rating=3.0).fit(data), data, ks=(2,))
    # errors 1, 1, 2: rmse = sqrt(6/3), mae = 4/3
    assert result["rmse"] == pytest.approx(math.sqrt(2))
    assert result["mae"] == pytest.approx(4 / 3)
    assert result.rating_pairs == 3
    assert "rmse" not in evaluate(SameForAll().fit(data), data, ks=(2,))


def test_unrated_pairs_are_left_out_and_counted() -> None:
    data = tiny(test_rating=[4.0, float("nan"), 5.0])
    result = evaluate(RatingModel(rating=3.0).fit(data), data, ks=(2,))
    # rated errors 1 and 2: rmse = sqrt(5/2), mae = 3/2
    assert result["rmse"] == pytest.approx(math.sqrt(2.5))
    assert result["mae"] == pytest.approx(1.5)
    assert result.rating_pairs == 2


def test_result_is_dict_like_and_serialisable() -> None:
    result = evaluate(SameForAll().fit(tiny()), tiny(), ks=(2,))
    assert isinstance(result, EvaluationResult)
    assert dict(result) == result.metrics and len(result) == len(result.metrics)
    row = result.to_dict()
    assert row["model"] == "same_for_all" and row["users"] == 2
    assert row["metrics"]["recall@2"] == pytest.approx(0.25)
    assert row["seconds"] >= 0


def test_quick_validator_scores_the_valid_split() -> None:
    model, data = SameForAll().fit(tiny()), tiny()
    validate = quick_validator(data, metric="recall@2")
    assert validate(model) == pytest.approx(0.5)
    assert validate(model) == evaluate(model, data, split="valid", ks=(2,))["recall@2"]
    for bad in ("recall", "ndcg@0", "rmse", "speed@10"):
        with pytest.raises(ConfigError):
            quick_validator(data, metric=bad)


def test_score_validator_takes_a_bare_score_function() -> None:
    model, data = SameForAll().fit(tiny()), tiny()
    validate = score_validator(data, ks=(2, 3))
    metrics = validate(model.score)
    assert metrics == evaluate(model, data, split="valid", ks=(2, 3)).metrics
    # the reverse order ranks item 4 first: user 0 (train {0,1}) -> [4, 3], valid {3} at rank 2
    # user 1 (train {2}) -> [4, 3], valid {3} at rank 2; recall@2 = 1, mrr@2 = 1/2
    reverse = validate(lambda users: torch.arange(5).float().expand(len(users), -1))
    assert reverse["recall@2"] == 1.0 and reverse["mrr@2"] == pytest.approx(0.5)
    empty = tiny()
    empty.valid = pairs()
    with pytest.raises(EmptyDataError):
        score_validator(empty)


def test_refuses_what_cannot_be_evaluated() -> None:
    model, data = SameForAll().fit(tiny()), tiny()
    with pytest.raises(ConfigError):
        evaluate(model, data, split="train")
    with pytest.raises(ConfigError):
        evaluate(model, data, protocol="lenient")  # type: ignore[arg-type]
    with pytest.raises(NotFittedError):
        evaluate(SameForAll(), data)
    other = tiny()
    other.num_items = 6
    other.item_x = torch.zeros(6, 0)
    with pytest.raises(ModelError, match="fitted for"):
        evaluate(model, other)


def test_nan_scores_are_a_model_error() -> None:
    model = SameForAll().fit(tiny())
    model.scores_ = torch.full((5,), float("nan"))
    with pytest.raises(ModelError, match="NaN"):
        evaluate(model, tiny())
