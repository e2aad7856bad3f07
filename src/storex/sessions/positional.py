"""Laplacian eigenvector positional encodings of the item graph.

The eigenvectors of the smallest eigenvalues of the normalised Laplacian
``L = I - D^-1/2 A D^-1/2`` place items that are near in the graph near each other. A
co-occurrence graph of real sessions falls apart into many connected components (hundreds on
the DIGINETICA sample), and ``L`` then has one zero eigenvalue per component whose
eigenvectors only say which component an item is in. So each component is encoded as a graph
of its own, as batched small graphs are: column ``j`` holds the ``j``-th non-trivial
eigenvector of the item's component (zero where the component is too small to have one).
Components up to :data:`DENSE_LIMIT` items are solved densely, larger ones with
``scipy.sparse.linalg.eigsh`` (the largest of ``2I - L``, which needs no factorisation).
Results are cached on disk by the graph's fingerprint. An eigenvector's sign is arbitrary,
so training flips signs at random (:func:`random_sign_flip`) and the model learns not to
depend on them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from torch import Tensor

from storex.errors import ConfigError
from storex.io import atomic_path
from storex.sessions.graph import ItemGraph

log = logging.getLogger(__name__)

ENCODING_VERSION = 2
"""Part of the cache file name: bump it when the encodings are computed differently, so an
old cache is never read as the new kind."""
DENSE_LIMIT = 512
"""Components up to this many items are solved densely (``eigsh`` needs ``k`` well below
their size, and a dense solve of a small matrix is faster anyway)."""


def laplacian_encodings(
    graph: ItemGraph, dim: int, *, cache_dir: str | Path | None = None
) -> Tensor:
    """``(num_items, dim)`` float32 encodings (see the module docstring).

    Within each component the non-zero parts of the columns are orthonormal eigenvectors,
    smallest eigenvalues first. With ``cache_dir`` the result is read from, or written to,
    ``lap-v<version>-<fingerprint>-<dim>.npy`` there.
    """
    if dim < 1:
        raise ConfigError(f"positional encoding dim must be >= 1, got {dim}")
    name = f"lap-v{ENCODING_VERSION}-{graph.fingerprint()}-{dim}.npy"
    cached = None if cache_dir is None else Path(cache_dir) / name
    if cached is not None and cached.is_file():
        return torch.from_numpy(np.load(cached, allow_pickle=False))
    vectors = _component_eigenvectors(normalized_laplacian(graph), dim)
    if cached is not None:
        with atomic_path(cached) as tmp, tmp.open("wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
    return torch.from_numpy(vectors)


def normalized_laplacian(graph: ItemGraph) -> sp.csr_matrix:
    """``I - D^-1/2 A D^-1/2`` with ``A`` the symmetric weighted adjacency (no loops)."""
    n = graph.num_items
    src, dst = graph.edge_index.numpy()
    weight = graph.edge_weight.numpy().astype(np.float64)
    off_diagonal = src != dst
    adjacency = sp.csr_matrix(
        (weight[off_diagonal], (src[off_diagonal], dst[off_diagonal])), shape=(n, n)
    )
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    scale = np.where(degree > 0, 1.0 / np.sqrt(np.where(degree > 0, degree, 1.0)), 0.0)
    normalised = sp.diags(scale) @ adjacency @ sp.diags(scale)
    return (sp.identity(n, format="csr") - normalised).tocsr()


def random_sign_flip(encodings: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """``encodings`` with each column multiplied by a random +1 or -1."""
    signs = torch.randint(0, 2, (encodings.shape[1],), generator=generator, device="cpu")
    return encodings * (2.0 * signs.to(encodings) - 1.0)


def _component_eigenvectors(laplacian: sp.csr_matrix, dim: int) -> np.ndarray:
    """Per connected component, its ``dim`` non-trivial eigenvectors (zero-padded)."""
    n = laplacian.shape[0]
    out = np.zeros((n, dim), dtype=np.float32)
    count, label = connected_components(laplacian, directed=False)
    order = np.argsort(label, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(label, minlength=count))]
    for component in range(count):
        members = order[bounds[component] : bounds[component + 1]]
        if members.size < 2:
            continue  # a lone item has only the trivial eigenvector
        block = laplacian[members][:, members]
        vectors = _smallest_eigenvectors(block, min(dim + 1, members.size))[:, 1:]
        out[members, : vectors.shape[1]] = vectors
    return out


def _smallest_eigenvectors(laplacian: sp.csr_matrix, k: int) -> np.ndarray:
    """The ``k`` eigenvectors of the smallest eigenvalues of one connected Laplacian."""
    n = laplacian.shape[0]
    if n <= DENSE_LIMIT or k >= n - 1:
        values, vectors = np.linalg.eigh(laplacian.toarray())
    else:
        shifted = 2.0 * sp.identity(n, format="csr") - laplacian
        start = np.random.default_rng(0).standard_normal(n)  # fixed: same graph, same result
        try:
            values, vectors = eigsh(shifted, k=k, which="LA", v0=start, tol=1e-8)
        except ArpackNoConvergence as exc:  # keep what converged; the rest stays zero
            log.warning("eigsh converged on %d of %d eigenvectors", len(exc.eigenvalues), k)
            values, vectors = exc.eigenvalues, exc.eigenvectors
        values = 2.0 - values
    order = np.argsort(values, kind="stable")[:k]
    return vectors[:, order].astype(np.float32)
