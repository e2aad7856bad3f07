"""Item-item weights for "because you rated X" and "similar items".

The model's own item-item view is used when it has one (``Recommender.item_weights``: EASE's
``B``, ItemKNN's similarities, or the cosine of learned item embeddings). Models with
neither (popularity, random) fall back to the cosine of items' co-occurrence in the
training graph, ``|U_i & U_j| / sqrt(|U_i| |U_j|)``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from storex.models.base import Recommender

ITEM_WEIGHTS = "item_weights"
EMBEDDING_COSINE = "embedding_cosine"
COOCCURRENCE = "cooccurrence"


class ItemRelations:
    """One item-item view over the model's items, whichever the model allows."""

    def __init__(self, model: Recommender, training: sp.csr_matrix) -> None:
        self.model = model
        self.num_items = model.num_items_
        self.method = _method(model)
        if self.method == COOCCURRENCE:
            binary = training.copy()
            binary.data[:] = 1.0
            self._by_item = binary.T.tocsr().astype(np.float32)
            degree = np.asarray(self._by_item.sum(axis=1), dtype=np.float32).ravel()
            self._norm = np.sqrt(np.maximum(degree, 1.0))

    def weights(self, sources: Tensor, targets: Tensor | None = None) -> Tensor:
        """``(len(sources), len(targets))`` weights, targets all items when None."""
        if self.method != COOCCURRENCE:
            with torch.no_grad():
                return self.model.item_weights(sources, targets).float()
        src = sources.long().numpy()
        tgt = np.arange(self.num_items) if targets is None else targets.long().numpy()
        counts = (self._by_item[src] @ self._by_item[tgt].T).toarray()
        return torch.from_numpy(
            (counts / np.outer(self._norm[src], self._norm[tgt])).astype(np.float32)
        )

    def similar(self, item: int, k: int) -> tuple[Tensor, Tensor]:
        """Up to ``k`` items related to ``item`` by a positive weight (itself left out),
        best first."""
        if self.method != COOCCURRENCE:
            with torch.no_grad():
                top_items, top_weights = self.model.similar_items(torch.tensor([item]), k)
            top_items, top_weights = top_items[0], top_weights[0].float()
        else:
            row = self.weights(torch.tensor([item]))[0]
            row[item] = -torch.inf
            top_weights, top_items = torch.topk(row, min(k, row.numel()))
        keep = top_weights > 0
        return top_items[keep], top_weights[keep]


def _method(model: Recommender) -> str:
    try:
        model.item_weights(torch.tensor([0]), torch.tensor([0]))
    except NotImplementedError:
        return COOCCURRENCE
    if type(model).item_weights is Recommender.item_weights:
        return EMBEDDING_COSINE
    return ITEM_WEIGHTS
