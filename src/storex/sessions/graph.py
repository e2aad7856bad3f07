"""The item graph session models propagate over: co-occurrence in training sessions only.

Built with :func:`storex.graph.build_item_cooccurrence` (two items co-occur when at most
``window`` steps apart; weights are counts; each item keeps its ``top_n`` heaviest
neighbours), then made undirected: an edge kept by either end is kept both ways, so messages
flow along it in both directions and the Laplacian is symmetric.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch_geometric.utils import to_undirected

from storex.graph.cooccurrence import build_item_cooccurrence
from storex.idmap import IdMap
from storex.sessions.table import SessionTable


@dataclass(frozen=True)
class ItemGraph:
    """Undirected weighted item graph: ``edge_index (2, M)`` holds both directions."""

    edge_index: Tensor
    edge_weight: Tensor
    num_items: int

    def __repr__(self) -> str:
        return f"ItemGraph(items={self.num_items}, edges={self.num_edges})"

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    def to(self, device: torch.device | str) -> ItemGraph:
        """The same graph with its tensors on ``device``: itself when they are there already,
        so what an encoder caches for this graph (its sorted edges) stays valid."""
        if self.edge_index.device == torch.device(device):
            return self
        return ItemGraph(self.edge_index.to(device), self.edge_weight.to(device), self.num_items)

    def fingerprint(self) -> str:
        """A digest of the graph (cache key of anything computed from it)."""
        digest = hashlib.sha256()
        digest.update(np.int64(self.num_items).tobytes())
        digest.update(self.edge_index.numpy().tobytes())
        digest.update(self.edge_weight.numpy().tobytes())
        return digest.hexdigest()[:20]


def build_item_graph(
    train: SessionTable, num_items: int, *, window: int = 3, top_n: int = 20
) -> ItemGraph:
    """The co-occurrence graph of the training sessions (item indices ``0..num_items-1``)."""
    ids = [str(i) for i in range(num_items)]
    session = np.repeat(train.session_ids.astype(str), train.lengths)
    frame = pd.DataFrame(
        {
            "user_id": session,
            "item_id": np.asarray(train.items, dtype=np.int64).astype(str),
            "timestamp": train.times,
            "session_id": session,
            "split": "train",
        }
    )
    edge_index, edge_weight = build_item_cooccurrence(frame, IdMap(ids), window=window, top_n=top_n)
    if edge_index.numel():
        edge_index, edge_weight = to_undirected(
            edge_index, edge_weight, num_nodes=num_items, reduce="max"
        )
    return ItemGraph(edge_index.long(), edge_weight.float(), num_items)


def add_self_loops(graph: ItemGraph, weight: float = 1.0) -> ItemGraph:
    """``graph`` with a loop of ``weight`` on every item (attention can then keep a node's
    own state, and an item without neighbours still has one edge)."""
    device = graph.edge_index.device
    loops = torch.arange(graph.num_items, device=device).repeat(2, 1)
    own = torch.full(
        (graph.num_items,), float(weight), dtype=graph.edge_weight.dtype, device=device
    )
    return ItemGraph(
        torch.cat([graph.edge_index, loops], dim=1),
        torch.cat([graph.edge_weight, own]),
        graph.num_items,
    )


def edge_weight_feature(weight: Tensor) -> Tensor:
    """Co-occurrence counts on a log scale (counts are heavy-tailed)."""
    return torch.log1p(weight)
