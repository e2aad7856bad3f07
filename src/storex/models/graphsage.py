"""GraphSAGE over the user-item graph: inductive embeddings from features and neighbours.

Each layer has one :class:`~torch_geometric.nn.SAGEConv` per message direction (users ->
items and items -> users), so users and items keep their own weights, as a heterogeneous
graph would. Node inputs are an id embedding plus projected features; with ``id_dropout`` (or
``user_ids=False``) the feature path learns to embed a user alone, which is what
:meth:`~storex.models.bipartite.BipartiteRecommender.score_new_users` relies on, and with
``new_item_rate`` an item alone, for
:meth:`~storex.models.bipartite.BipartiteRecommender.embed_new_items`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import SAGEConv

from storex.errors import ConfigError
from storex.models.bipartite import DIRECTIONS, BipartiteGNN, BipartiteRecommender, Direction
from storex.models.data import DataSpec
from storex.models.neural import GraphInputs
from storex.models.registry import register

Aggregation = Literal["mean", "max", "sum"]


class GraphSAGEModule(BipartiteGNN):
    """:class:`BipartiteGNN` with SAGE convolutions (``aggr`` over neighbours + root weight)."""

    def __init__(self, spec: DataSpec, *, aggr: Aggregation = "mean", **kwargs: Any) -> None:
        super().__init__(spec, **kwargs)
        if aggr not in ("mean", "max", "sum"):
            raise ConfigError(f"aggr must be 'mean', 'max' or 'sum', got {aggr!r}")
        self.aggr = aggr
        dim = self.user_input.dim
        self.convs = nn.ModuleDict(
            {
                direction: nn.ModuleList(
                    SAGEConv((dim, dim), dim, aggr=aggr) for _ in range(self.num_layers)
                )
                for direction in DIRECTIONS
            }
        )
        self._edge_cache: tuple[Tensor, dict[Direction, Any]] | None = None

    def convolve(
        self, layer: int, direction: Direction, x_src: Tensor, x_dst: Tensor, edges: Any
    ) -> Tensor:
        conv = self.convs[direction][layer]
        if not isinstance(edges, Adjacency):
            return conv((x_src, x_dst), edges)
        # SAGEConv's own arithmetic with aggregation as a product. Aggregation is linear, so
        # the neighbour weight may act before it: on the senders when they are fewer.
        if x_src.shape[0] < x_dst.shape[0]:
            neighbours = edges.aggregate(F.linear(x_src, conv.lin_l.weight)) + conv.lin_l.bias
        else:
            neighbours = conv.lin_l(edges.aggregate(x_src))
        return neighbours + conv.lin_r(x_dst)

    def edges(self, graph: GraphInputs) -> dict[Direction, Any]:
        """For mean and sum, sparse adjacencies: aggregation becomes one sparse-dense product
        (an order of magnitude faster than per-edge messages); built once per graph."""
        if self.aggr == "max":
            return super().edges(graph)
        if self._edge_cache is None or self._edge_cache[0] is not graph.edge_index:
            users, items = graph.edge_index
            sizes = graph.num_users, graph.num_items
            self._edge_cache = (
                graph.edge_index,
                {
                    "to_item": Adjacency.build(items, users, sizes[::-1], mean=self.aggr == "mean"),
                    "to_user": Adjacency.build(users, items, sizes, mean=self.aggr == "mean"),
                },
            )
        return self._edge_cache[1]


@dataclass(frozen=True)
class Adjacency:
    """Receivers x senders CSR matrix (rows summing to 1 for a mean) and its transpose."""

    matrix: Tensor
    transpose: Tensor

    @classmethod
    def build(
        cls, receivers: Tensor, senders: Tensor, size: tuple[int, int], *, mean: bool
    ) -> Adjacency:
        """From unique ``(receiver, sender)`` pairs; ``size`` is ``(receivers, senders)``."""
        degree = torch.bincount(receivers, minlength=size[0]).float().clamp(min=1.0)
        values = 1.0 / degree[receivers] if mean else torch.ones_like(degree[receivers])
        return cls(
            _csr(receivers, senders, values, size), _csr(senders, receivers, values, size[::-1])
        )

    def aggregate(self, x: Tensor) -> Tensor:
        return _SparseProduct.apply(self.matrix, self.transpose, x)


class _SparseProduct(torch.autograd.Function):
    """``matrix @ dense`` whose gradient uses the precomputed transpose (autograd through
    ``torch.sparse.mm`` is several times slower on CPU)."""

    @staticmethod
    def forward(ctx: Any, matrix: Tensor, transpose: Tensor, dense: Tensor) -> Tensor:
        ctx.transpose = transpose
        return torch.sparse.mm(matrix, dense)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, Tensor]:
        return None, None, torch.sparse.mm(ctx.transpose, grad)


def _csr(rows: Tensor, cols: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    """``size`` CSR matrix with ``values`` at ``(rows, cols)`` (pairs unique)."""
    order = torch.argsort(rows * size[1] + cols)
    crow = torch.zeros(size[0] + 1, dtype=torch.long, device=rows.device)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=size[0]), 0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            crow, cols[order], values[order], size, check_invariants=False
        )


@register
class GraphSAGEModel(BipartiteRecommender):
    """GraphSAGE recommender (``name = "graphsage"``).

    Parameters
    ----------
    aggr
        Neighbour aggregation of every SAGE convolution.
    **kwargs
        The shared hyperparameters of
        :class:`~storex.models.bipartite.BipartiteRecommender`.
    """

    name: ClassVar[str] = "graphsage"

    def __init__(self, aggr: Aggregation = "mean", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aggr = aggr

    def model_params(self) -> dict[str, Any]:
        return {**super().model_params(), "aggr": self.aggr}

    def build_module(self, spec: DataSpec) -> GraphSAGEModule:
        return GraphSAGEModule(spec, aggr=self.aggr, **self.module_kwargs())
