"""Item-graph encoders: item states from their input embeddings and the co-occurrence graph.

Three kinds share one call, ``encoder(x, graph) -> (N, dim)``, so the session model does not
care which it holds:

* ``graphsage``: mean of the neighbours (SAGE convolution) plus the node's own state;
* ``gat``: :class:`storex.models.gat.GATEncoder`, attention that reads the edge weights;
* ``graph_transformer``: :class:`GraphTransformerLayer` stacks (dot-product attention).

Every layer adds its output to its input (residual), so two layers never wash out what the
item's own embedding says.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import SAGEConv

from storex.errors import ConfigError
from storex.models.gat import GATEncoder
from storex.models.layers import reset_children
from storex.sessions.graph import ItemGraph, add_self_loops, edge_weight_feature
from storex.sessions.transformer import GraphTransformerLayer, ReceiverEdges

EncoderKind = Literal["graphsage", "gat", "graph_transformer"]
ENCODER_KINDS: tuple[str, ...] = ("graphsage", "gat", "graph_transformer")


class ItemEncoder(nn.Module):
    """Base of the encoders: ``forward(x, graph) -> (N, dim)`` item states."""

    def reset_parameters(self) -> None:
        reset_children(self)


class SageItemEncoder(ItemEncoder):
    """``layers`` SAGE convolutions (mean aggregation), ReLU and dropout between them."""

    def __init__(self, dim: int, layers: int = 2, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.convs = nn.ModuleList(SAGEConv(dim, dim, aggr="mean") for _ in range(layers))
        self.dropout = dropout

    def forward(self, x: Tensor, graph: ItemGraph) -> Tensor:
        for i, conv in enumerate(self.convs):
            update = conv(x, graph.edge_index)
            if i < len(self.convs) - 1:
                update = F.dropout(F.relu(update), self.dropout, self.training)
            x = x + update
        return x


class GatItemEncoder(ItemEncoder):
    """:class:`GATEncoder` over the weighted graph (self-loops added by the convolution)."""

    def __init__(self, dim: int, layers: int = 2, *, heads: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.encoder = GATEncoder(
            dim,
            dim,
            heads,
            layers,
            dropout=dropout,
            attention_dropout=dropout,
            edge_weights=True,
            residual=True,
        )

    def forward(self, x: Tensor, graph: ItemGraph) -> Tensor:
        return x + self.encoder(x, graph.edge_index, edge_weight_feature(graph.edge_weight))


class TransformerItemEncoder(ItemEncoder):
    """``layers`` :class:`GraphTransformerLayer` over the graph with self-loops."""

    def __init__(
        self,
        dim: int,
        layers: int = 2,
        *,
        heads: int = 2,
        feed_forward: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            GraphTransformerLayer(dim, heads, feed_forward=feed_forward, dropout=dropout)
            for _ in range(layers)
        )
        self._edges: tuple[ItemGraph, ReceiverEdges] | None = None

    def forward(self, x: Tensor, graph: ItemGraph) -> Tensor:
        edges = self._receiver_edges(graph)
        for layer in self.layers:
            x = layer(x, edges)
        return x

    def _receiver_edges(self, graph: ItemGraph) -> ReceiverEdges:
        """Self-looped, receiver-sorted edges, built once per graph (fixed while training)."""
        if self._edges is None or self._edges[0] is not graph:
            looped = add_self_loops(graph)
            feature = edge_weight_feature(looped.edge_weight)
            edges = ReceiverEdges.build(looped.edge_index, feature, graph.num_items)
            self._edges = (graph, edges)
        return self._edges[1]


def make_item_encoder(
    kind: str,
    dim: int,
    layers: int = 2,
    *,
    heads: int = 2,
    feed_forward: bool = False,
    dropout: float = 0.0,
) -> ItemEncoder:
    """The encoder of ``kind`` (see :data:`ENCODER_KINDS`)."""
    if layers < 0:
        raise ConfigError(f"layers must be >= 0, got {layers}")
    if kind == "graphsage":
        return SageItemEncoder(dim, layers, dropout=dropout)
    if kind == "gat":
        return GatItemEncoder(dim, layers, heads=heads, dropout=dropout)
    if kind == "graph_transformer":
        return TransformerItemEncoder(
            dim, layers, heads=heads, feed_forward=feed_forward, dropout=dropout
        )
    raise ConfigError(f"unknown encoder {kind!r}; choose one of {', '.join(ENCODER_KINDS)}")
