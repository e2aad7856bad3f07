"""Approximate top-K over item factors with a FAISS HNSW index, exact where it matters.

A graph index (HNSW, inner product) finds candidates in well under a millisecond at a
hundred thousand items, where an exact scan costs a full row of products and a partial sort.
The answer must still respect what exact ranking respects, so a query

1. over-fetches: ``k`` plus the user's excluded items, divided by the share of the catalogue
   the filter allows, with a margin;
2. drops excluded and disallowed candidates and re-ranks the rest by their exact product
   with the float32 factors (the stored vectors may be fp16 or int8);
3. falls back to :func:`~storex.retrieval.exact.exact_top_k` for a row where fewer than
   ``k`` admissible candidates survive, or where the over-fetch would approach a scan anyway
   (a narrow filter, a user who has seen much of the catalogue).

HNSW was chosen over IVF because its recall/latency trade-off is set at query time by one
number (``efSearch``), with no training pass whose quality depends on the data; build cost
is paid once, in the bundle. The least ``efSearch`` reaching 0.985 recall@10 on sample
queries is measured at build and saved with the index; a bigger fetch raises it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from storex.errors import ModelError
from storex.retrieval.exact import exact_top_k

Storage = Literal["flat", "fp16", "int8"]
STORAGES: tuple[Storage, ...] = ("flat", "fp16", "int8")
INDEX_FILE = "items.faiss"
NEIGHBOURS = 32
"""HNSW links per node: the usual choice for 32-128 dimensions."""
BUILD_EFFORT = 80
FETCH_MARGIN = 1.5
SCAN_SHARE = 0.25
"""Above this share of the catalogue an over-fetch costs about as much as an exact scan."""
TARGET_RECALL = 0.985
"""Recall@10 against exact that the search effort is chosen for, on sample queries."""
EFFORTS = (64, 128, 256, 512, 1024, 2048)
CALIBRATION_QUERIES = 256


def _faiss():  # type: ignore[no-untyped-def]
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - the scale extra is part of the set-up
        raise ModelError(
            "nearest-neighbour retrieval needs faiss-cpu: pip install 'storex[scale]'"
        ) from exc
    return faiss


class ItemIndex:
    """An inner-product HNSW index over ``item_vectors`` ``(I, d)``.

    ``storage`` keeps the indexed vectors as float32 (``flat``), fp16 or int8 (FAISS scalar
    quantizer): less memory, slightly coarser candidates; answers are re-ranked exactly
    either way.
    """

    def __init__(  # type: ignore[no-untyped-def]
        self,
        item_vectors: Tensor,
        *,
        storage: Storage = "flat",
        index=None,
        queries: Tensor | None = None,
    ) -> None:
        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {STORAGES}, got {storage!r}")
        self.vectors = np.ascontiguousarray(item_vectors.detach().float().cpu().numpy())
        self.storage: Storage = storage
        if index is None:
            index = self._build()
            index.hnsw.efSearch = self._calibrated_effort(index, queries)
        self.index = index
        self.effort = int(index.hnsw.efSearch)  # saved with the index
        if self.index.ntotal != len(self.vectors):
            raise ModelError(
                f"index holds {self.index.ntotal} items but the model has {len(self.vectors)}"
            )

    @property
    def num_items(self) -> int:
        return len(self.vectors)

    def _build(self):  # type: ignore[no-untyped-def]
        faiss = _faiss()
        dim = self.vectors.shape[1]
        if self.storage == "flat":
            index = faiss.IndexHNSWFlat(dim, NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        else:
            kind = (
                faiss.ScalarQuantizer.QT_fp16
                if self.storage == "fp16"
                else faiss.ScalarQuantizer.QT_8bit
            )
            index = faiss.IndexHNSWSQ(dim, kind, NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            index.train(self.vectors)
        index.hnsw.efConstruction = BUILD_EFFORT
        index.add(self.vectors)
        return index

    def _calibrated_effort(self, index, queries: Tensor | None) -> int:  # type: ignore[no-untyped-def]
        """The least search effort whose fetch of ``3 * 10`` (the smallest over-fetch of a
        top-10 query) holds ``TARGET_RECALL`` of the exact top-10 on sample queries (user
        vectors when given, else item vectors), the largest tried when none does.

        How hard a catalogue is to search depends on its factors (trained ones are far less
        clustered than random test sets), so the effort is measured, not set."""
        pool = self.vectors if queries is None else queries.detach().float().cpu().numpy()
        rng = np.random.default_rng(0)
        sample = pool[rng.choice(len(pool), min(CALIBRATION_QUERIES, len(pool)), replace=False)]
        sample = np.ascontiguousarray(sample)
        k = min(10, self.num_items)
        exact, _ = exact_top_k(torch.from_numpy(sample), torch.from_numpy(self.vectors), k)
        truth = exact.numpy()
        for effort in EFFORTS:
            index.hnsw.efSearch = effort
            _, found = index.search(sample, min(3 * k, self.num_items))
            hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
            if hits >= TARGET_RECALL * truth.size:
                return effort
        return EFFORTS[-1]

    def save(self, path: str | Path) -> None:
        _faiss().write_index(self.index, str(path))

    @classmethod
    def load(
        cls, path: str | Path, item_vectors: Tensor, *, storage: Storage = "flat"
    ) -> ItemIndex:
        """The index saved at ``path``, rebuilt when it is missing, unreadable or stale."""
        faiss = _faiss()
        try:
            index = faiss.read_index(str(path))
        except RuntimeError:  # missing, damaged, or written by an incompatible faiss
            return cls(item_vectors, storage=storage)
        if index.ntotal != item_vectors.shape[0] or index.d != item_vectors.shape[1]:
            return cls(item_vectors, storage=storage)
        return cls(item_vectors, storage=storage, index=index)

    def top_k(
        self,
        user_vectors: Tensor,
        k: int,
        *,
        exclude: sp.csr_matrix | None = None,
        allowed: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Top-``k`` items and exact scores per user, with :func:`exact_top_k`'s contract:
        indices padded with -1 and scores with -inf where fewer than ``k`` items qualify."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        users = np.ascontiguousarray(user_vectors.detach().float().cpu().numpy())
        excluded = np.zeros(len(users), dtype=np.int64)
        if exclude is not None:
            excluded = np.diff(exclude.indptr).astype(np.int64)
        share = 1.0 if allowed is None else float(allowed.float().mean())
        out_items = torch.full((len(users), k), -1, dtype=torch.long)
        out_scores = torch.full((len(users), k), -torch.inf)
        if share == 0.0 or len(users) == 0:
            return out_items, out_scores
        wanted = np.ceil((k + excluded) / share * FETCH_MARGIN).astype(np.int64)
        scan = wanted > SCAN_SHARE * self.num_items
        searched = np.flatnonzero(~scan)
        fallback = list(np.flatnonzero(scan))
        if searched.size:
            fetch = int(wanted[searched].max())
            self.index.hnsw.efSearch = max(self.effort, fetch)
            _, found = self.index.search(users[searched], fetch)
            allowed_np = None if allowed is None else allowed.numpy()
            for row, candidates in zip(searched, found, strict=True):
                kept = self._admissible(candidates, allowed_np, exclude, int(row))
                if kept.size < k:
                    fallback.append(int(row))
                    continue
                scores = self.vectors[kept] @ users[row]
                order = np.lexsort((kept, -scores))[:k]
                out_items[row] = torch.from_numpy(kept[order])
                out_scores[row] = torch.from_numpy(scores[order])
        if fallback:
            rows = np.sort(np.asarray(fallback, dtype=np.int64))
            items, scores = exact_top_k(
                torch.from_numpy(users[rows]),
                torch.from_numpy(self.vectors),
                k,
                exclude=None if exclude is None else exclude[rows],
                allowed=allowed,
            )
            out_items[rows], out_scores[rows] = items, scores
        return out_items, out_scores

    @staticmethod
    def _admissible(
        candidates: np.ndarray,
        allowed: np.ndarray | None,
        exclude: sp.csr_matrix | None,
        row: int,
    ) -> np.ndarray:
        kept = candidates[candidates >= 0]
        if allowed is not None:
            kept = kept[allowed[kept]]
        if exclude is not None:
            seen = exclude.indices[exclude.indptr[row] : exclude.indptr[row + 1]]
            if seen.size:
                kept = kept[~np.isin(kept, seen)]
        return kept


def needs_index(num_items: int, min_items: int) -> bool:
    """Whether a catalogue of ``num_items`` gets an index (``min_items`` <= 0: never)."""
    return 0 < min_items <= num_items
