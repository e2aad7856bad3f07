"""Losses against values worked out by hand or by a plainer formula."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from storex.train import losses


def test_bpr_is_softplus_of_the_margin() -> None:
    pos, neg = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])
    expected = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(1.0))) / 2
    assert losses.bpr_loss(pos, neg).item() == pytest.approx(expected)


def test_bpr_with_several_negatives_compares_each_to_its_positive() -> None:
    pos, neg = torch.tensor([1.0]), torch.tensor([[1.0, 3.0]])
    expected = (math.log(2.0) + math.log1p(math.exp(2.0))) / 2
    assert losses.bpr_loss(pos, neg).item() == pytest.approx(expected)


def test_bce_averages_each_side() -> None:
    pos, neg = torch.tensor([0.0]), torch.tensor([[0.0, 0.0, 0.0]])
    # log 2 for the positive side plus log 2 for the (averaged) negative side
    assert losses.bce_loss(pos, neg).item() == pytest.approx(2 * math.log(2.0))


def test_full_softmax_is_cross_entropy_per_positive() -> None:
    scores = torch.tensor([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    t = 0.5
    per_pair = [
        F.cross_entropy(scores[0:1] / t, torch.tensor([0])),
        F.cross_entropy(scores[0:1] / t, torch.tensor([1])),
        F.cross_entropy(scores[1:2] / t, torch.tensor([2])),
    ]
    expected = torch.stack(per_pair).mean()
    assert losses.softmax_loss(scores, targets, t).item() == pytest.approx(expected.item())


def test_lower_temperature_punishes_a_close_negative_more() -> None:
    scores = torch.tensor([[1.0, 0.9]])
    targets = torch.tensor([[1.0, 0.0]])
    assert losses.softmax_loss(scores, targets, 0.1) < losses.softmax_loss(scores, targets, 1.0)
    good = torch.tensor([[1.0, -1.0]])
    assert losses.softmax_loss(good, targets, 0.1) < losses.softmax_loss(good, targets, 1.0)


def test_sampled_softmax_with_log_q_correction() -> None:
    pos, neg = torch.tensor([1.0]), torch.tensor([[0.0, 2.0]])
    plain = losses.sampled_softmax_loss(pos, neg, 1.0)
    expected = -torch.log_softmax(torch.tensor([1.0, 0.0, 2.0]), 0)[0]
    assert plain.item() == pytest.approx(expected.item())
    log_q_neg = torch.log(torch.tensor([[0.1, 0.7]]))
    log_q_pos = torch.log(torch.tensor([0.2]))
    corrected = losses.sampled_softmax_loss(pos, neg, 1.0, log_q_neg, log_q_pos)
    logits = torch.tensor([1.0, 0.0, 2.0]) - torch.log(torch.tensor([0.2, 0.1, 0.7]))
    assert corrected.item() == pytest.approx(-torch.log_softmax(logits, 0)[0].item())


def test_mse_and_l2_penalty() -> None:
    assert losses.mse_loss(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 3.0])).item() == 0.5
    users = torch.tensor([[1.0, 1.0], [0.0, 2.0]])  # squared norms 2 and 4
    items = torch.tensor([[3.0, 0.0]])  # 9
    assert losses.l2_penalty(users, items).item() == pytest.approx((2 + 4 + 9) / (2 * 2))


def test_per_user_softmax_weighs_every_user_the_same() -> None:
    scores = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    targets = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    # Every pair costs log 2 here, so both averages agree ...
    assert losses.softmax_loss(scores, targets, per_user=True).item() == pytest.approx(
        math.log(2.0)
    )
    # ... but a user with one well-ranked positive weighs half, not a third, of the total.
    scores = torch.tensor([[0.0, 0.0], [5.0, 0.0]])
    good = -torch.log_softmax(torch.tensor([5.0, 0.0]), 0)[0].item()
    per_user = (math.log(2.0) + good) / 2
    per_pair = (2 * math.log(2.0) + good) / 3
    assert losses.softmax_loss(scores, targets, per_user=True).item() == pytest.approx(per_user)
    assert losses.softmax_loss(scores, targets).item() == pytest.approx(per_pair)
