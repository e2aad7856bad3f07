"""Exact top-K: the same answer as ranking a full score block, whatever the chunking."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from storex.models.baselines import EASE
from storex.models.graphsage import GraphSAGEModel
from storex.models.lightgcn import LightGCN
from storex.models.ncf import NCFModel
from storex.retrieval import exact_top_k
from storex.retrieval.exact import top_k_rows
from tests.models.contract_models import TINY_TRAINING, checkerboard


def _reference(users, items, k, exclude, allowed):
    scores = users @ items.T
    if allowed is not None:
        scores[:, ~allowed] = -torch.inf
    if exclude is not None:
        rows = exclude.tocoo()
        scores[torch.from_numpy(rows.row).long(), torch.from_numpy(rows.col).long()] = -torch.inf
    return torch.topk(scores, k, dim=1)


@pytest.mark.parametrize("chunk_rows", [1, 3, 7, 1000])
def test_matches_full_ranking_with_exclusions_and_filters(chunk_rows: int) -> None:
    generator = torch.Generator().manual_seed(0)
    users, items = torch.randn(10, 8, generator=generator), torch.randn(50, 8, generator=generator)
    exclude = sp.random(10, 50, density=0.2, format="csr", random_state=0)
    allowed = torch.rand(50, generator=generator) > 0.3
    found, scores = exact_top_k(
        users, items, 5, exclude=exclude, allowed=allowed, chunk_rows=chunk_rows
    )
    expected = _reference(users, items, 5, exclude, allowed)
    assert torch.equal(found, expected.indices)
    assert torch.allclose(scores, expected.values)


def test_rows_with_too_few_admissible_items_are_padded() -> None:
    users, items = torch.ones(2, 4), torch.arange(12.0).view(3, 4)
    exclude = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 0]]))
    found, scores = exact_top_k(users, items, 5, exclude=exclude)
    assert found[0].tolist() == [2, 1, -1, -1, -1]
    assert found[1].tolist() == [2, 1, 0, -1, -1]
    assert torch.isneginf(scores[0, 2:]).all()


@pytest.mark.parametrize(
    "factory",
    [
        lambda: LightGCN(embedding_dim=8, train=TINY_TRAINING),
        lambda: GraphSAGEModel(embedding_dim=8, train=TINY_TRAINING),
    ],
    ids=["lightgcn", "graphsage"],
)
def test_factors_reproduce_the_model_scores(factory) -> None:
    model = factory().fit(checkerboard())
    factors = model.dot_factors()
    assert factors is not None
    users = torch.arange(model.num_users_)
    assert torch.allclose(factors[0] @ factors[1].T, model.score(users), atol=1e-5)


def test_models_without_a_plain_product_have_no_factors() -> None:
    assert EASE(l2=1.0).fit(checkerboard()).dot_factors() is None
    ncf = NCFModel(factors=4, mlp_layers=(8, 4), train={**TINY_TRAINING, "epochs": 1})
    assert ncf.fit(checkerboard()).dot_factors() is None


@pytest.mark.parametrize("k", [1, 10, 40])
def test_block_search_matches_a_full_ranking_on_big_rows(k: int) -> None:
    generator = torch.Generator().manual_seed(1)
    users, items = (
        torch.randn(33, 12, generator=generator),
        torch.randn(9000, 12, generator=generator),
    )
    exclude = sp.random(33, 9000, density=0.01, format="csr", random_state=2)
    allowed = torch.rand(9000, generator=generator) > 0.5
    found, scores = exact_top_k(users, items, k, exclude=exclude, allowed=allowed, chunk_rows=8)
    expected = _reference(users, items, k, exclude, allowed)
    assert torch.equal(found, expected.indices)
    assert torch.allclose(scores, expected.values)


def test_equal_scores_go_to_the_lower_item_as_in_the_service() -> None:
    items = torch.zeros(5000, 2)
    items[:, 0] = torch.arange(5000) % 4  # four levels, 1250 items on each
    found, scores = exact_top_k(torch.ones(3, 2), items, 6)
    best = [i for i in range(5000) if i % 4 == 3][:6]
    assert found.tolist() == [best] * 3
    assert torch.all(scores == 3)
    rows, _ = top_k_rows(items[:, 0].repeat(2, 1).clone(), 6)
    assert rows.tolist() == [best] * 2
