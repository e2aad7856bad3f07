"""Graph attention: a reusable layer stack and the user-item GAT recommender.

:class:`GATEncoder` is a plain stack of attention layers over any graph given as
``(x, edge_index, edge_weight)``: an item-item co-occurrence graph of a session model, or one
direction of the user-item graph (then ``x`` is a ``(senders, receivers)`` pair). The
recommender :class:`GATModel` uses one encoder per message direction (users -> items,
items -> users) with the node inputs, heads and cold-start paths (new users, new items) of
:class:`~storex.models.bipartite.BipartiteRecommender`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GATv2Conv

from storex.errors import ConfigError
from storex.models.bipartite import DIRECTIONS, BipartiteGNN, BipartiteRecommender, Direction
from storex.models.data import DataSpec
from storex.models.registry import register


class GATEncoder(nn.Module):
    """``layers`` attention layers: ``hidden`` wide (``heads`` concatenated), the last
    ``out_dim`` wide (heads averaged), batch norm, ReLU and dropout in between.

    Parameters
    ----------
    in_dim, hidden, heads, layers
        Input width, hidden width (a multiple of ``heads``), heads per layer, layer count.
    out_dim
        Output width (default ``hidden``).
    dropout, attention_dropout
        Dropout between layers and on the attention coefficients.
    v2
        GATv2 attention (dynamic: the ranking of neighbours may depend on the receiver).
    self_loops
        Let every node attend to itself (homogeneous graphs; bipartite use needs False).
    residual
        Add a projection of the receiver's own state (keeps a node without neighbours, or a
        receiver on the other side of a bipartite graph, from losing its own information).
    edge_weights
        Attention also reads a scalar weight per edge (co-occurrence counts); ``forward``
        then accepts ``edge_weight``.
    batch_norm
        Batch norm between layers.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: int,
        heads: int = 4,
        layers: int = 2,
        *,
        out_dim: int | None = None,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        v2: bool = False,
        self_loops: bool = True,
        residual: bool = True,
        edge_weights: bool = False,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if layers < 1 or heads < 1:
            raise ConfigError(f"layers and heads must be >= 1, got {layers} and {heads}")
        if hidden % heads:
            raise ConfigError(f"hidden width {hidden} is not a multiple of heads={heads}")
        out_dim = hidden if out_dim is None else out_dim
        conv_class = GATv2Conv if v2 else GATConv
        common = {
            "heads": heads,
            "dropout": attention_dropout,
            "add_self_loops": self_loops,
            "residual": residual,
            "edge_dim": 1 if edge_weights else None,
        }
        widths = [in_dim] + [hidden] * (layers - 1)
        self.convs = nn.ModuleList(
            conv_class(width, hidden // heads, concat=True, **common) for width in widths[:-1]
        )
        self.convs.append(conv_class(widths[-1], out_dim, concat=False, **common))
        self.norms = nn.ModuleList(
            nn.BatchNorm1d(hidden) if batch_norm else nn.Identity() for _ in range(layers - 1)
        )
        self.dropout = dropout
        self.edge_weights = edge_weights
        self.out_dim = out_dim

    def conv(
        self,
        layer: int,
        x: Tensor | tuple[Tensor, Tensor],
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
    ) -> Tensor:
        """Layer ``layer``'s attention alone (no norm or activation)."""
        if edge_weight is not None and not self.edge_weights:
            raise ConfigError("edge weights given to a GATEncoder built with edge_weights=False")
        if edge_weight is None and self.edge_weights:
            raise ConfigError("this GATEncoder was built for edge weights: pass edge_weight")
        edge_attr = None if edge_weight is None else edge_weight.view(-1, 1).float()
        return self.convs[layer](x, edge_index, edge_attr=edge_attr)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """Node states ``(N, in_dim) -> (N, out_dim)`` on one homogeneous graph."""
        for layer in range(len(self.convs)):
            x = self.conv(layer, x, edge_index, edge_weight)
            if layer < len(self.convs) - 1:
                x = F.relu(self.norms[layer](x))
                x = F.dropout(x, self.dropout, self.training)
        return x


class GATModule(BipartiteGNN):
    """:class:`BipartiteGNN` whose convolutions are the layers of two :class:`GATEncoder`."""

    def __init__(
        self,
        spec: DataSpec,
        *,
        heads: int = 4,
        attention_dropout: float = 0.0,
        v2: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(spec, **kwargs)
        dim = self.user_input.dim
        self.encoders = nn.ModuleDict(
            {
                direction: GATEncoder(
                    dim,
                    dim,
                    heads,
                    self.num_layers,
                    attention_dropout=attention_dropout,
                    v2=v2,
                    self_loops=False,
                )
                for direction in DIRECTIONS
            }
        )

    def convolve(
        self, layer: int, direction: Direction, x_src: Tensor, x_dst: Tensor, edges: Any
    ) -> Tensor:
        return self.encoders[direction].conv(layer, (x_src, x_dst), edges)


@register
class GATModel(BipartiteRecommender):
    """Graph attention recommender (``name = "gat"``).

    Parameters
    ----------
    heads, attention_dropout, v2
        As in :class:`GATEncoder`.
    **kwargs
        The shared hyperparameters of
        :class:`~storex.models.bipartite.BipartiteRecommender`.
    """

    name: ClassVar[str] = "gat"

    def __init__(
        self, heads: int = 4, attention_dropout: float = 0.0, v2: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.heads = heads
        self.attention_dropout = attention_dropout
        self.v2 = v2

    def model_params(self) -> dict[str, Any]:
        return {
            **super().model_params(),
            "heads": self.heads,
            "attention_dropout": self.attention_dropout,
            "v2": self.v2,
        }

    def build_module(self, spec: DataSpec) -> GATModule:
        return GATModule(
            spec,
            heads=self.heads,
            attention_dropout=self.attention_dropout,
            v2=self.v2,
            **self.module_kwargs(),
        )
