"""Laplacian positional encodings: shape, orthonormal eigenvectors, components, cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import storex.sessions.positional as positional
from storex.errors import ConfigError
from storex.sessions import build_item_graph, laplacian_encodings
from storex.sessions.graph import ItemGraph
from storex.sessions.positional import normalized_laplacian, random_sign_flip
from tests.sessions.test_samples import table


def ring(n: int, offset: int = 0) -> list[int]:
    return [offset + i for i in range(n)] + [offset]


def test_connected_graph_gives_orthonormal_laplacian_eigenvectors() -> None:
    graph = build_item_graph(table(ring(12)), num_items=12, window=1)
    pe = laplacian_encodings(graph, 4).double()
    assert pe.shape == (12, 4) and pe.dtype == torch.float64
    assert torch.allclose(pe.T @ pe, torch.eye(4, dtype=torch.float64), atol=1e-5)
    laplacian = torch.from_numpy(normalized_laplacian(graph).toarray())
    rayleigh = torch.diag(pe.T @ laplacian @ pe)
    assert torch.allclose(laplacian @ pe, pe * rayleigh, atol=1e-5)  # eigenvectors
    assert (rayleigh > 1e-6).all() and (rayleigh.diff() >= -1e-9).all()  # non-trivial, sorted


def test_components_are_encoded_on_their_own() -> None:
    graph = build_item_graph(table(ring(6), ring(5, offset=6), [11, 12]), num_items=14, window=1)
    pe = laplacian_encodings(graph, 3).double()
    gram = pe.T @ pe
    assert torch.allclose(
        gram - torch.diag(torch.diag(gram)), torch.zeros(3, 3, dtype=torch.float64), atol=1e-5
    )
    for members in (range(0, 6), range(6, 11)):
        block = pe[list(members)]
        assert torch.allclose(block.T @ block, torch.eye(3, dtype=torch.float64), atol=1e-5)
    assert pe[11:13, 1:].abs().max() == 0  # a two-item component has one non-trivial vector
    assert pe[13].abs().max() == 0  # an item without edges has none


def test_large_components_use_eigsh(monkeypatch) -> None:
    monkeypatch.setattr(positional, "DENSE_LIMIT", 10)
    rng = np.random.default_rng(0)
    sessions = [rng.integers(0, 60, 6).tolist() for _ in range(150)]
    graph = build_item_graph(table(*sessions), num_items=60, window=2)
    sparse = laplacian_encodings(graph, 5).double()
    monkeypatch.setattr(positional, "DENSE_LIMIT", 1000)
    dense = laplacian_encodings(graph, 5).double()
    overlap = (sparse * dense).sum(0).abs()  # equal up to sign
    assert torch.allclose(overlap, torch.ones(5, dtype=torch.float64), atol=1e-4)


def test_results_are_cached_by_graph(tmp_path, monkeypatch) -> None:
    graph = build_item_graph(table(ring(8)), num_items=8, window=1)
    first = laplacian_encodings(graph, 2, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("lap-v*-2.npy"))) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setattr(positional, "_component_eigenvectors", refuse)
    assert torch.equal(laplacian_encodings(graph, 2, cache_dir=tmp_path), first)
    other = ItemGraph(graph.edge_index, graph.edge_weight * 2, graph.num_items)
    with pytest.raises(AssertionError, match="recomputed"):
        laplacian_encodings(other, 2, cache_dir=tmp_path)


def test_sign_flips_keep_magnitudes_and_vary() -> None:
    pe = torch.randn(10, 6)
    generator = torch.Generator().manual_seed(0)
    flips = [random_sign_flip(pe, generator) for _ in range(8)]
    for flipped in flips:
        assert torch.equal(flipped.abs(), pe.abs())
        signs = (flipped / pe)[0]
        assert torch.equal((flipped / pe), signs.expand_as(pe))  # one sign per column
    assert len({tuple((f / pe)[0].sign().tolist()) for f in flips}) > 1
    with pytest.raises(ConfigError):
        laplacian_encodings(build_item_graph(table([0, 1]), num_items=2), 0)
