"""The HNSW item index: admissible answers, exact re-ranking, exact fallback, saved and
loaded with the bundle, and the engine's answers unchanged when it serves through it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from storex.bundle import ModelBundle, describe
from storex.idmap import IdMap
from storex.models.lightgcn import LightGCN
from storex.retrieval import ann
from storex.retrieval.ann import INDEX_FILE, ItemIndex
from storex.retrieval.exact import exact_top_k
from storex.serve.engine import RecommendationEngine
from tests.models.contract_models import TINY_TRAINING, checkerboard
from tests.serve.test_engine import catalog


def clustered(items: int, users: int, dim: int = 16, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(40, dim, generator=generator)
    item_vectors = centres[torch.randint(40, (items,), generator=generator)]
    item_vectors = item_vectors + 0.5 * torch.randn(items, dim, generator=generator)
    user_vectors = centres[torch.randint(40, (users,), generator=generator)]
    return user_vectors + 0.5 * torch.randn(users, dim, generator=generator), item_vectors


def recall_at(found: torch.Tensor, exact: torch.Tensor) -> float:
    """Share of the exact top-k the answer holds, averaged over users."""
    k = exact.shape[1]
    hits = [len(set(a.tolist()) & set(b.tolist())) for a, b in zip(found, exact, strict=True)]
    return float(np.mean(hits)) / k


@pytest.fixture(scope="module")
def planted():
    users, items = clustered(3000, 200)
    return users, items, ItemIndex(items)


def test_recall_against_exact_on_a_clustered_set(planted) -> None:
    users, items, index = planted
    seen = sp.random(200, 3000, density=0.01, format="csr", random_state=1)
    found, scores = index.top_k(users, 10, exclude=seen)
    exact, _ = exact_top_k(users, items, 10, exclude=seen)
    recall = recall_at(found, exact)
    assert recall >= 0.98
    for row in range(200):
        assert not set(found[row].tolist()) & set(seen[row].indices.tolist())
        assert torch.allclose(scores[row], items[found[row]] @ users[row], atol=1e-5)
        assert bool((scores[row][:-1] >= scores[row][1:]).all())


@pytest.mark.parametrize("storage", ["fp16", "int8"])
def test_quantized_storage_still_answers_with_exact_scores(planted, storage) -> None:
    users, items, _ = planted
    index = ItemIndex(items, storage=storage)
    found, scores = index.top_k(users[:50], 10)
    exact, _ = exact_top_k(users[:50], items, 10)
    recall = recall_at(found, exact)
    assert recall >= 0.9
    assert torch.allclose(scores, (items[found] * users[:50, None]).sum(-1), atol=1e-5)


def test_every_answer_passes_the_filter(planted) -> None:
    users, _, index = planted
    allowed = torch.zeros(3000, dtype=torch.bool)
    allowed[::2] = True
    found, _ = index.top_k(users, 10, allowed=allowed)
    assert bool(allowed[found].all())


def test_a_narrow_filter_falls_back_to_the_exact_answer(planted) -> None:
    users, items, index = planted
    allowed = torch.zeros(3000, dtype=torch.bool)
    allowed[:7] = True  # fewer admissible items than k: padded, never filled with others
    found, scores = index.top_k(users[:20], 10, allowed=allowed)
    exact, exact_scores = exact_top_k(users[:20], items, 10, allowed=allowed)
    assert torch.equal(found, exact) and torch.equal(scores, exact_scores)
    assert bool((found[:, 7:] == -1).all())


def test_saved_index_is_read_back_and_a_damaged_one_rebuilt(planted, tmp_path) -> None:
    users, items, index = planted
    index.save(tmp_path / INDEX_FILE)
    again = ItemIndex.load(tmp_path / INDEX_FILE, items)
    assert torch.equal(again.top_k(users, 5)[0], index.top_k(users, 5)[0])
    (tmp_path / INDEX_FILE).write_bytes(b"damaged")
    rebuilt = ItemIndex.load(tmp_path / INDEX_FILE, items)
    assert rebuilt.num_items == 3000


def lightgcn_bundle() -> ModelBundle:
    data = checkerboard()
    model = LightGCN(embedding_dim=8, train=TINY_TRAINING).fit(data)
    users = IdMap(f"u{i}" for i in range(data.num_users))
    items = IdMap(f"i{i}" for i in range(data.num_items))
    info = describe(model, version="v1", metrics={}, fingerprint="test")
    return ModelBundle(model, data, users, items, info)


def test_bundle_builds_its_index_above_the_catalogue_size(tmp_path) -> None:
    bundle = lightgcn_bundle()
    small = bundle.save(tmp_path / "exact", ann_min_items=17)
    assert not (small / INDEX_FILE).exists()
    assert ModelBundle.load(small).index is None
    bundle.index = None
    big = bundle.save(tmp_path / "indexed", ann_min_items=16)
    assert (big / INDEX_FILE).is_file()
    assert ModelBundle.load(big).index is not None


@pytest.mark.parametrize("search_everything", [False, True], ids=["fallback", "index"])
def test_engine_answers_are_unchanged_through_the_index(monkeypatch, search_everything) -> None:
    if search_everything:  # send every query through HNSW rather than the exact fallback
        monkeypatch.setattr(ann, "SCAN_SHARE", 100.0)
    bundle = lightgcn_bundle()
    exact = RecommendationEngine(bundle, score_cache_mb=0)
    indexed_bundle = ModelBundle(**{**bundle.__dict__, "index": ItemIndex(bundle.model.item_emb_)})
    indexed = RecommendationEngine(indexed_bundle, score_cache_mb=0)
    for engine in (exact, indexed):
        engine.set_catalog(catalog())
    filters = [{}, {"category": "Books"}, {"in_stock_only": True}, {"max_price": 90.0}]
    for user in (f"u{i}" for i in range(20)):
        for chosen in filters:
            want, got = exact.recommend(user, 5, **chosen), indexed.recommend(user, 5, **chosen)
            assert [i.item_id for i in got.items] == [i.item_id for i in want.items]
            assert got.strategy == want.strategy == "personalized"
