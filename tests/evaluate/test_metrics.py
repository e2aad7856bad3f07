"""Ranking and rating metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from storex.errors import ConfigError
from storex.evaluate.metrics import (
    RankingAccumulator,
    catalog_coverage,
    check_ks,
    hit_matrix,
    mae,
    metric_names,
    ranking_metrics,
    rmse,
    topk_metrics,
)

LOG3 = math.log2(3)  # discount of rank 2 is 1 / log2(3)
LOG5 = math.log2(5)  # discount of rank 4 is 1 / log2(5)


def truth_rows(rows: list[list[int]], num_items: int) -> sp.csr_matrix:
    dense = np.zeros((len(rows), num_items), dtype=np.float32)
    for r, items in enumerate(rows):
        dense[r, items] = 1.0
    return sp.csr_matrix(dense)


# user 0 ranks [3, 1, 4, 0] with truth {0, 1}: hits at ranks 2 and 4
# user 1 ranks [2, 0, 1, 3] with truth {5}: no hit
TOP = np.array([[3, 1, 4, 0], [2, 0, 1, 3]])
TRUTH = truth_rows([[1, 0], [5]], num_items=6)


def test_hit_matrix_marks_relevant_ranks() -> None:
    hits = hit_matrix(TOP, TRUTH)
    assert hits.tolist() == [[False, True, False, True], [False, False, False, False]]
    assert hit_matrix(torch.from_numpy(TOP), TRUTH).tolist() == hits.tolist()


def test_hit_matrix_ignores_stored_zeros() -> None:
    truth = sp.csr_matrix((np.array([1.0, 0.0]), np.array([0, 3]), np.array([0, 2])), (1, 6))
    assert hit_matrix(np.array([[3, 0]]), truth).tolist() == [[False, True]]


def test_per_user_values_by_hand() -> None:
    per_user = ranking_metrics(hit_matrix(TOP, TRUTH), [2, 1], ks=(1, 2, 4))
    user0 = {name: float(v[0]) for name, v in per_user.items()}
    # K=1: rank 1 is a miss
    assert user0["precision@1"] == 0.0 and user0["recall@1"] == 0.0 and user0["mrr@1"] == 0.0
    # K=2: one hit in 2 -> precision 1/2, recall 1/2 of 2 truths, first hit at rank 2
    assert user0["precision@2"] == pytest.approx(0.5)
    assert user0["recall@2"] == pytest.approx(0.5)
    assert user0["hit_rate@2"] == 1.0
    assert user0["mrr@2"] == pytest.approx(0.5)
    # DCG@2 = 1/log2(3); IDCG over min(2, 2) = 2 ranks = 1 + 1/log2(3)
    assert user0["ndcg@2"] == pytest.approx((1 / LOG3) / (1 + 1 / LOG3))
    # K=4: two hits in 4 -> precision 2/4; recall 2/2
    assert user0["precision@4"] == pytest.approx(0.5)
    assert user0["recall@4"] == pytest.approx(1.0)
    # DCG@4 = 1/log2(3) + 1/log2(5); fewer truths (2) than K (4): IDCG = 1 + 1/log2(3)
    assert user0["ndcg@4"] == pytest.approx((1 / LOG3 + 1 / LOG5) / (1 + 1 / LOG3))
    # user 1 never hits: every metric is zero
    assert all(float(v[1]) == 0.0 for v in per_user.values())


def test_means_and_names_in_report_order() -> None:
    means = topk_metrics(TOP, TRUTH, ks=(4, 2))
    assert list(means) == metric_names((2, 4))
    assert list(means)[:2] == ["precision@2", "precision@4"]
    # user 0 recall@4 = 1, user 1 = 0 -> mean 1/2
    assert means["recall@4"] == pytest.approx(0.5)
    # user 0 mrr@4 = 1/2, user 1 = 0 -> mean 1/4
    assert means["mrr@4"] == pytest.approx(0.25)


def test_k_larger_than_catalog() -> None:
    # 3 items, all ranked: [0, 2, 1]; truth {2}; K=5 > catalog
    per_user = ranking_metrics(hit_matrix(np.array([[0, 2, 1]]), truth_rows([[2]], 3)), [1], [5])
    assert per_user["precision@5"][0] == pytest.approx(1 / 5)  # precision still divides by K
    assert per_user["recall@5"][0] == 1.0
    assert per_user["ndcg@5"][0] == pytest.approx(1 / LOG3)  # IDCG over min(5, 1) = 1 rank
    assert per_user["mrr@5"][0] == pytest.approx(0.5)


def test_hits_wider_than_largest_k_are_cut() -> None:
    # hit only at rank 3, K=2: nothing found
    per_user = ranking_metrics(np.array([[False, False, True]]), [1], [2])
    assert per_user["recall@2"][0] == 0.0 and per_user["mrr@2"][0] == 0.0


def test_accumulator_averages_batches_and_counts_coverage() -> None:
    acc = RankingAccumulator((2,), num_items=6)
    acc.add(TOP[:1], TRUTH[:1])
    acc.add(TOP[1:], TRUTH[1:])
    result = acc.result()
    assert acc.users == 2
    assert result["recall@2"] == pytest.approx(0.25)  # (1/2 + 0) / 2
    # top-2 lists {3, 1} and {2, 0}: 4 of 6 items
    assert result["coverage@2"] == pytest.approx(4 / 6)
    assert RankingAccumulator((2,), 6).result() == {}


def test_catalog_coverage() -> None:
    assert catalog_coverage(np.array([[0, 1], [1, 2]]), 5) == pytest.approx(3 / 5)
    with pytest.raises(ValueError):
        catalog_coverage(np.array([[0]]), 0)


def test_rmse_and_mae_by_hand() -> None:
    # errors 0, 0, 2: rmse = sqrt(4/3), mae = 2/3
    assert rmse([1.0, 2.0, 3.0], torch.tensor([1.0, 2.0, 5.0])) == pytest.approx(math.sqrt(4 / 3))
    assert mae(np.array([1.0, 2.0, 3.0]), [1.0, 2.0, 5.0]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("predicted", "target"),
    [([1.0], [1.0, 2.0]), ([], []), ([1.0, float("nan")], [1.0, 2.0])],
)
def test_rating_errors_reject_bad_input(predicted: list[float], target: list[float]) -> None:
    with pytest.raises(ValueError):
        rmse(predicted, target)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one truth"):
        ranking_metrics(np.zeros((1, 2), dtype=bool), [0], [2])
    with pytest.raises(ValueError, match="outside"):
        hit_matrix(np.array([[7]]), TRUTH[:1])
    with pytest.raises(ValueError, match="truth rows"):
        hit_matrix(TOP, TRUTH[:1])
    with pytest.raises(ValueError, match="more hits"):
        ranking_metrics(np.ones((1, 3), dtype=bool), [2], [3])
    for bad in ([], [0], [2.5], [True]):
        with pytest.raises(ConfigError):
            check_ks(bad)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 9), st.data())
def test_metric_laws(num_items: int, data: st.DataObject) -> None:
    """Any ranking: values in [0, 1], recall grows with K, precision*K = recall*|truth|."""
    order = data.draw(st.permutations(range(num_items)))
    truth = data.draw(st.sets(st.integers(0, num_items - 1), min_size=1))
    hits = hit_matrix(np.array([order]), truth_rows([sorted(truth)], num_items))
    per_user = ranking_metrics(hits, [len(truth)], ks=range(1, num_items + 2))
    for value in per_user.values():
        assert 0.0 <= float(value[0]) <= 1.0 + 1e-12
    recalls = [float(per_user[f"recall@{k}"][0]) for k in range(1, num_items + 2)]
    assert recalls == sorted(recalls) and recalls[-1] == 1.0
    for k in range(1, num_items + 2):
        found = per_user[f"precision@{k}"][0] * k
        assert found == pytest.approx(per_user[f"recall@{k}"][0] * len(truth))
