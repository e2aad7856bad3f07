"""What every model trains on: the training graph and the held-out pairs, as tensors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from storex.graph import ITEM, RATES, USER, StoreXDataset, split_edge_index


@dataclass(frozen=True)
class DataSpec:
    """The sizes a model is built for; saved with it so it can be rebuilt without data."""

    num_users: int
    num_items: int
    user_dim: int = 0
    item_dim: int = 0


@dataclass
class InteractionData:
    """Positive user-item pairs per split, with ratings and features.

    ``train`` holds the unique training positives as ``[user; item]`` (the message-passing
    graph); ``valid`` and ``test`` the held-out positives. Ratings are NaN for implicit data.
    Features may have zero columns (data sets without metadata).
    """

    num_users: int
    num_items: int
    train: Tensor
    valid: Tensor
    test: Tensor
    train_rating: Tensor
    valid_rating: Tensor
    test_rating: Tensor
    user_x: Tensor
    item_x: Tensor

    @classmethod
    def from_hetero(cls, hetero: HeteroData) -> InteractionData:
        empty = torch.empty(0)
        return cls(
            num_users=int(hetero[USER].num_nodes),
            num_items=int(hetero[ITEM].num_nodes),
            train=split_edge_index(hetero, "train"),
            valid=split_edge_index(hetero, "valid"),
            test=split_edge_index(hetero, "test"),
            train_rating=hetero[RATES].get("rating", empty).float(),
            valid_rating=getattr(hetero, "valid_edge_rating", empty).float(),
            test_rating=getattr(hetero, "test_edge_rating", empty).float(),
            user_x=hetero[USER].x.float(),
            item_x=hetero[ITEM].x.float(),
        )

    @classmethod
    def from_artifacts(cls, folder: str | Path) -> InteractionData:
        """Load the artifacts folder written by ``storex data prepare``."""
        return cls.from_hetero(StoreXDataset(folder).hetero)

    @property
    def spec(self) -> DataSpec:
        return DataSpec(
            self.num_users, self.num_items, int(self.user_x.shape[1]), int(self.item_x.shape[1])
        )

    @property
    def is_explicit(self) -> bool:
        return bool(self.train_rating.numel()) and not bool(torch.isnan(self.train_rating).all())

    def matrix(self, *splits: str) -> sp.csr_matrix:
        """Binary users x items CSR matrix of the positives of ``splits`` (default: train)."""
        pairs = [getattr(self, s) for s in (splits or ("train",))]
        edges = torch.cat(pairs, dim=1).numpy() if pairs else np.empty((2, 0), dtype=np.int64)
        values = np.ones(edges.shape[1], dtype=np.float32)
        matrix = sp.csr_matrix(
            (values, (edges[0], edges[1])), shape=(self.num_users, self.num_items)
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix

    def item_popularity(self) -> Tensor:
        """Training degree of every item."""
        return torch.bincount(self.train[1], minlength=self.num_items).float()
