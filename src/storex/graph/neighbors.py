"""Neighbor sampling in plain torch, for PyG's ``NodeLoader`` and ``LinkLoader``.

PyG's own :class:`~torch_geometric.sampler.NeighborSampler` needs ``pyg-lib`` or
``torch-sparse``; :func:`make_neighbor_sampler` uses it when either is installed and
:class:`TorchNeighborSampler` otherwise. Both follow the same conventions:

* sampling runs against edge direction: for an edge type ``(src, rel, dst)`` a node of type
  ``dst`` draws among its *incoming* edges, i.e. the ``src`` nodes that send it messages;
* ``node[t]`` lists global ids, the seeds first, then the nodes new at hop 1, hop 2, ...;
* ``row[e]`` / ``col[e]`` are local indices into ``node[src]`` / ``node[dst]``, so
  ``filter_hetero_data`` builds ``edge_index = [row; col]`` (messages flow row -> col);
* ``edge[e]`` holds the *original* edge positions (``edge_permutation`` is ``None``), which the
  loaders use to slice edge attributes and store as ``e_id``;
* ``num_sampled_nodes`` / ``num_sampled_edges`` count per hop, edges ordered by hop, as
  ``trim_to_layer`` expects.

Each hop is vectorised over the whole frontier: nodes with at most ``k`` in-edges keep all of
them; nodes with up to ``2k`` sort random keys per segment and keep the first ``k``; nodes with
more draw ``k`` offsets and redraw only duplicates. Sampling is without replacement, fanout
``-1`` keeps every neighbour. Only directional, non-disjoint, non-temporal sampling is offered.
"""

from __future__ import annotations

import logging
from typing import Final

import torch
import torch_geometric.typing
from torch import Tensor
from torch_geometric.data import Data, HeteroData
from torch_geometric.sampler import (
    BaseSampler,
    EdgeSamplerInput,
    HeteroSamplerOutput,
    NegativeSampling,
    NeighborSampler,
    NodeSamplerInput,
    SamplerOutput,
)
from torch_geometric.sampler.base import NumNeighbors
from torch_geometric.sampler.neighbor_sampler import edge_sample, node_sample
from torch_geometric.typing import EdgeType, NodeType

from storex.errors import ConfigError

log = logging.getLogger(__name__)

_NODE: Final = "_node"
_EDGE: Final = (_NODE, "_to", _NODE)

NumNeighborsArg = NumNeighbors | list[int] | dict[EdgeType, list[int]]


class TorchNeighborSampler(BaseSampler):
    """Fixed-fanout neighbor sampler for in-memory ``Data`` / ``HeteroData``, pure torch.

    Parameters
    ----------
    data
        The graph; its adjacency is converted to CSC once, here.
    num_neighbors
        Fanout per hop, e.g. ``[10, 5]``, or per edge type ``{edge_type: [10, 5], ...}``.
    seed
        Seeds a private generator for reproducible batches (then every data-loader worker
        repeats the same stream); ``None`` draws from torch's global generator.
    """

    def __init__(
        self,
        data: Data | HeteroData,
        num_neighbors: NumNeighborsArg,
        *,
        seed: int | None = None,
    ) -> None:
        if isinstance(data, HeteroData):
            self.is_hetero = True
            self.node_types, self.edge_types = data.metadata()
            self.num_nodes: int | dict[NodeType, int] = {
                t: int(data[t].num_nodes) for t in self.node_types
            }
            sizes = dict(self.num_nodes)
            stores = {e: data[e].edge_index for e in self.edge_types}
        elif isinstance(data, Data):
            self.is_hetero = False
            self.node_types, self.edge_types = [_NODE], [_EDGE]
            self.num_nodes = int(data.num_nodes)
            sizes = {_NODE: self.num_nodes}
            stores = {_EDGE: data.edge_index}
        else:
            raise ConfigError(f"expected Data or HeteroData, got {type(data).__name__}")
        self._sizes = sizes
        if not isinstance(num_neighbors, NumNeighbors):
            num_neighbors = NumNeighbors(num_neighbors)
        self.num_neighbors = num_neighbors
        if self.is_hetero:
            self._fanout = {
                e: list(v) for e, v in num_neighbors.get_values(self.edge_types).items()
            }
        else:
            values = num_neighbors.get_values()
            if isinstance(values, dict):
                raise ConfigError("per-edge-type fanouts need a HeteroData graph")
            self._fanout = {_EDGE: list(values)}
        self.num_hops = num_neighbors.num_hops
        self._csc = {e: _to_csc(index, sizes[e[-1]]) for e, index in stores.items()}
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    # PyG loader interface ####################################################################

    def sample_from_nodes(
        self, index: NodeSamplerInput, **kwargs: object
    ) -> SamplerOutput | HeteroSamplerOutput:
        return node_sample(index, self._sample)

    def sample_from_edges(
        self, index: EdgeSamplerInput, neg_sampling: NegativeSampling | None = None
    ) -> SamplerOutput | HeteroSamplerOutput:
        if index.time is not None:
            raise ConfigError("temporal link sampling needs PyG's sampler with pyg-lib")
        return edge_sample(index, self._sample, self.num_nodes, False, None, neg_sampling)

    @property
    def edge_permutation(self) -> None:
        return None

    # Sampling ################################################################################

    def _sample(
        self,
        seed: Tensor | dict[NodeType, Tensor],
        seed_time: Tensor | dict[NodeType, Tensor] | None = None,
    ) -> SamplerOutput | HeteroSamplerOutput:
        if seed_time is not None:
            raise ConfigError("temporal sampling needs PyG's sampler with pyg-lib")
        seeds = seed if isinstance(seed, dict) else {_NODE: seed}
        node = {t: [seeds.get(t, torch.empty(0, dtype=torch.long)).long()] for t in self.node_types}
        count = {t: int(node[t][0].numel()) for t in self.node_types}
        local = {t: torch.full((self._sizes[t],), -1, dtype=torch.long) for t in self.node_types}
        for t in self.node_types:
            local[t][node[t][0]] = torch.arange(count[t])
        frontier = {t: (node[t][0], 0) for t in self.node_types}
        rows: dict[EdgeType, list[Tensor]] = {e: [] for e in self.edge_types}
        cols: dict[EdgeType, list[Tensor]] = {e: [] for e in self.edge_types}
        edges: dict[EdgeType, list[Tensor]] = {e: [] for e in self.edge_types}
        n_nodes = {t: [count[t]] for t in self.node_types}
        n_edges: dict[EdgeType, list[int]] = {e: [] for e in self.edge_types}

        for hop in range(self.num_hops):
            picked = {}
            for edge_type in self.edge_types:
                fanout = self._fanout[edge_type]
                k = fanout[hop] if hop < len(fanout) else 0
                targets, offset = frontier[edge_type[-1]]
                if k == 0 or targets.numel() == 0:
                    continue
                colptr, src, edge_id = self._csc[edge_type]
                pos, seg = _pick(colptr, targets, k, self.generator)
                picked[edge_type] = (src[pos], offset + seg, edge_id[pos])
            for t in self.node_types:
                found = [picked[e][0] for e in picked if e[0] == t]
                new = torch.empty(0, dtype=torch.long)
                if found:
                    candidates = torch.cat(found)
                    new = torch.unique(candidates[local[t][candidates] < 0])
                    local[t][new] = torch.arange(count[t], count[t] + new.numel())
                node[t].append(new)
                frontier[t] = (new, count[t])
                n_nodes[t].append(int(new.numel()))
                count[t] += int(new.numel())
            for edge_type in self.edge_types:
                if edge_type not in picked:
                    n_edges[edge_type].append(0)
                    continue
                src_global, dst_local, edge_id = picked[edge_type]
                rows[edge_type].append(local[edge_type[0]][src_global])
                cols[edge_type].append(dst_local)
                edges[edge_type].append(edge_id)
                n_edges[edge_type].append(int(edge_id.numel()))

        node_out = {t: torch.cat(v) for t, v in node.items()}
        row_out, col_out, edge_out = (
            {e: _cat(parts[e]) for e in self.edge_types} for parts in (rows, cols, edges)
        )
        if not self.is_hetero:
            return SamplerOutput(
                node=node_out[_NODE],
                row=row_out[_EDGE],
                col=col_out[_EDGE],
                edge=edge_out[_EDGE],
                batch=None,
                num_sampled_nodes=n_nodes[_NODE],
                num_sampled_edges=n_edges[_EDGE],
            )
        return HeteroSamplerOutput(
            node=node_out,
            row=row_out,
            col=col_out,
            edge=edge_out,
            batch=None,
            num_sampled_nodes=n_nodes,
            num_sampled_edges=n_edges,
        )


def make_neighbor_sampler(
    data: Data | HeteroData,
    num_neighbors: NumNeighborsArg,
    *,
    seed: int | None = None,
) -> BaseSampler:
    """PyG's ``NeighborSampler`` when pyg-lib or torch-sparse is installed, else ours.

    ``seed`` only applies to :class:`TorchNeighborSampler`; PyG's sampler draws from torch's
    global generator (seed it with :func:`torch.manual_seed`).
    """
    if torch_geometric.typing.WITH_PYG_LIB or torch_geometric.typing.WITH_TORCH_SPARSE:
        backend = "pyg-lib" if torch_geometric.typing.WITH_PYG_LIB else "torch-sparse"
        log.info("neighbor sampling with PyG's NeighborSampler (%s)", backend)
        return NeighborSampler(data, num_neighbors)
    log.info("neighbor sampling with TorchNeighborSampler (no pyg-lib or torch-sparse)")
    return TorchNeighborSampler(data, num_neighbors, seed=seed)


def _to_csc(edge_index: Tensor, num_dst: int) -> tuple[Tensor, Tensor, Tensor]:
    """``(colptr, src sorted by dst, original edge position)`` of one edge type."""
    dst = edge_index[1]
    order = torch.sort(dst, stable=True).indices
    colptr = torch.zeros(num_dst + 1, dtype=torch.long)
    colptr[1:] = torch.cumsum(torch.bincount(dst, minlength=num_dst), 0)
    return colptr, edge_index[0][order].contiguous(), order


def _pick(
    colptr: Tensor, targets: Tensor, k: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Up to ``k`` distinct in-edges per target: ``(positions in the CSC arrays, target slot)``."""
    start = colptr[targets]
    degree = colptr[targets + 1] - start
    slot = torch.arange(targets.numel())
    if k < 0:
        return _expand(start, degree, slot)
    small = degree <= k
    medium = ~small & (degree <= 2 * k)
    large = degree > 2 * k
    parts = [_expand(start[small], degree[small], slot[small])]
    if medium.any():
        pos, seg = _expand(start[medium], degree[medium], slot[medium])
        keys = seg.double() + torch.rand(seg.numel(), dtype=torch.float64, generator=generator)
        order = torch.argsort(keys)
        pos, seg = pos[order], seg[order]
        first = torch.ones_like(seg, dtype=torch.bool)
        first[1:] = seg[1:] != seg[:-1]
        run_start = torch.cummax(torch.where(first, torch.arange(seg.numel()), 0), 0).values
        keep = torch.arange(seg.numel()) - run_start < k
        parts.append((pos[keep], seg[keep]))
    if large.any():
        deg = degree[large].unsqueeze(1)
        offsets = _distinct_offsets(deg, k, generator)
        parts.append(
            ((start[large].unsqueeze(1) + offsets).view(-1), slot[large].repeat_interleave(k))
        )
    pos = torch.cat([p for p, _ in parts])
    seg = torch.cat([s for _, s in parts])
    order = torch.sort(seg, stable=True).indices
    return pos[order], seg[order]


def _distinct_offsets(degree: Tensor, k: int, generator: torch.Generator | None) -> Tensor:
    """``k`` distinct offsets in ``[0, degree)`` per row (``degree > 2k``), by redrawing clashes."""

    def draw(bounds: Tensor) -> Tensor:
        u = torch.rand(bounds.shape, dtype=torch.float64, generator=generator)
        return torch.minimum((u * bounds).long(), bounds - 1)

    offsets = draw(degree.expand(-1, k))
    while True:
        offsets = offsets.sort(dim=1).values
        clash = torch.zeros_like(offsets, dtype=torch.bool)
        clash[:, 1:] = offsets[:, 1:] == offsets[:, :-1]
        if not clash.any():
            return offsets
        offsets[clash] = draw(degree.expand(-1, k)[clash])


def _expand(start: Tensor, degree: Tensor, slot: Tensor) -> tuple[Tensor, Tensor]:
    """Every position ``start[j] .. start[j] + degree[j] - 1`` with its slot."""
    seg = slot.repeat_interleave(degree)
    first = torch.cumsum(degree, 0) - degree
    within = torch.arange(seg.numel()) - first.repeat_interleave(degree)
    return start.repeat_interleave(degree) + within, seg


def _cat(parts: list[Tensor]) -> Tensor:
    return torch.cat(parts) if parts else torch.empty(0, dtype=torch.long)
