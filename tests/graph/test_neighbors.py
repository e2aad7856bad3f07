"""Pure-torch neighbor sampling: PyG output conventions, fanout, loaders and a GNN on top."""

from __future__ import annotations

import pytest
import torch
import torch_geometric.typing
from torch import nn
from torch_geometric.data import Data, HeteroData
from torch_geometric.loader import LinkLoader, NodeLoader
from torch_geometric.nn import SAGEConv, to_hetero
from torch_geometric.sampler import NodeSamplerInput

from storex.errors import ConfigError
from storex.graph import RATES, REV_RATES, TorchNeighborSampler, make_neighbor_sampler
from storex.graph import neighbors as neighbors_module


def random_graph(seed: int = 0, users: int = 40, items: int = 60, edges: int = 400) -> HeteroData:
    gen = torch.Generator().manual_seed(seed)
    keys = torch.unique(torch.randint(0, users * items, (edges,), generator=gen))
    src, dst = keys // items, keys % items
    hetero = HeteroData()
    hetero["user"].x = torch.randn(users, 4, generator=gen)
    hetero["item"].x = torch.randn(items, 3, generator=gen)
    hetero[RATES].edge_index = torch.stack([src, dst])
    hetero[RATES].rating = torch.rand(src.numel(), generator=gen)
    hetero[REV_RATES].edge_index = torch.stack([dst, src])
    hetero[REV_RATES].rating = hetero[RATES].rating.clone()
    return hetero


def in_degree(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    return torch.bincount(edge_index[1], minlength=num_nodes)


def check_hetero_batch(batch: HeteroData, graph: HeteroData, fanout: list[int]) -> None:
    """Every edge is real, none repeats, and each frontier node got min(degree, k) in-edges."""
    for edge_type in graph.edge_types:
        src, _, dst = edge_type
        row, col = batch[edge_type].edge_index
        e_id = batch[edge_type].e_id
        original = graph[edge_type].edge_index[:, e_id]
        assert torch.equal(batch[src].n_id[row], original[0])
        assert torch.equal(batch[dst].n_id[col], original[1])
        assert torch.equal(batch[edge_type].rating, graph[edge_type].rating[e_id])
        assert e_id.unique().numel() == e_id.numel()

        degree = in_degree(graph[edge_type].edge_index, graph[dst].num_nodes)
        got = torch.bincount(col, minlength=batch[dst].num_nodes)
        hops = batch[dst].num_sampled_nodes
        start = 0
        for hop, size in enumerate(hops):
            k = fanout[hop] if hop < len(fanout) else 0
            nodes = slice(start, start + size)
            want = degree[batch[dst].n_id[nodes]]
            want = want if k < 0 else want.clamp(max=k)
            assert torch.equal(got[nodes], want), (edge_type, hop)
            start += size


def test_node_batches_follow_pyg_conventions():
    graph = random_graph()
    fanout = [3, 2]
    sampler = TorchNeighborSampler(graph, fanout, seed=0)
    seeds = torch.tensor([5, 0, 17, 33])
    loader = NodeLoader(graph, node_sampler=sampler, input_nodes=("user", seeds), batch_size=4)
    batch = next(iter(loader))
    assert torch.equal(batch["user"].n_id[:4], seeds)  # seeds first, in order
    assert batch["user"].batch_size == 4
    assert batch["user"].num_sampled_nodes[0] == 4 and batch["item"].num_sampled_nodes[0] == 0
    assert sum(batch["user"].num_sampled_nodes) == batch["user"].num_nodes
    assert len(batch[RATES].num_sampled_edges) == 2
    assert sum(batch[RATES].num_sampled_edges) == batch[RATES].num_edges
    assert batch["user"].n_id.unique().numel() == batch["user"].num_nodes
    check_hetero_batch(batch, graph, fanout)


def test_fanout_per_edge_type_and_minus_one_keeps_everything():
    graph = random_graph(seed=1)
    fanout = {RATES: [-1, 2], REV_RATES: [4, -1]}
    sampler = TorchNeighborSampler(graph, fanout, seed=1)
    out = sampler.sample_from_nodes(NodeSamplerInput(None, torch.arange(10), None, "item"))
    # hop 0 from items: all incoming user->item edges of the 10 seed items
    degree = in_degree(graph[RATES].edge_index, 60)
    assert out.num_sampled_edges[RATES][0] == int(degree[:10].sum())
    assert out.num_sampled_edges[REV_RATES][0] == 0  # no user in the frontier yet


def test_heavy_nodes_are_sampled_without_replacement_and_uniformly():
    # one hub with 10 in-neighbours (k < degree <= 2k path) and one with 50 (degree > 2k path)
    src = torch.cat([torch.arange(1, 11), torch.arange(11, 61)])
    dst = torch.cat([torch.zeros(10, dtype=torch.long), torch.full((50,), 61)])
    data = Data(edge_index=torch.stack([src, dst]), num_nodes=62)
    sampler = TorchNeighborSampler(data, [5], seed=2)
    hits = torch.zeros(62)
    rounds = 2000
    for _ in range(rounds):
        out = sampler.sample_from_nodes(NodeSamplerInput(None, torch.tensor([0, 61])))
        assert out.row.numel() == 10 and torch.equal(out.node[:2], torch.tensor([0, 61]))
        chosen_global = out.node[out.row]
        for hub in (0, 1):
            picked = chosen_global[out.col == hub]
            assert picked.numel() == 5 and picked.unique().numel() == 5
        hits[chosen_global] += 1
    assert torch.allclose(hits[1:11] / rounds, torch.full((10,), 0.5), atol=0.05)
    assert torch.allclose(hits[11:61] / rounds, torch.full((50,), 0.1), atol=0.03)


def test_homogeneous_graph_batches():
    gen = torch.Generator().manual_seed(3)
    edge_index = torch.randint(0, 60, (2, 500), generator=gen)
    data = Data(x=torch.randn(60, 2), edge_index=edge_index, num_nodes=60)
    sampler = TorchNeighborSampler(data, [4, 3], seed=3)
    loader = NodeLoader(data, node_sampler=sampler, input_nodes=torch.arange(8), batch_size=8)
    batch = next(iter(loader))
    assert torch.equal(batch.n_id[:8], torch.arange(8))
    assert torch.equal(data.edge_index[:, batch.e_id], batch.n_id[batch.edge_index])
    assert sum(batch.num_sampled_nodes) == batch.num_nodes
    counts = torch.bincount(batch.edge_index[1], minlength=batch.num_nodes)
    degree = in_degree(data.edge_index, 60)
    assert torch.equal(counts[:8], degree[:8].clamp(max=4))


class _SAGE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = SAGEConv((-1, -1), 16)
        self.conv2 = SAGEConv((-1, -1), 8)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


def test_two_layer_sage_runs_on_node_batches():
    graph = random_graph()
    model = to_hetero(_SAGE(), graph.metadata())
    sampler = TorchNeighborSampler(graph, [5, 3], seed=4)
    loader = NodeLoader(
        graph, node_sampler=sampler, input_nodes=("user", torch.arange(40)), batch_size=16
    )
    sizes = []
    for batch in loader:
        out = model(batch.x_dict, batch.edge_index_dict)
        seeds = out["user"][: batch["user"].batch_size]
        assert seeds.shape == (batch["user"].batch_size, 8) and torch.isfinite(seeds).all()
        sizes.append(batch["user"].batch_size)
    assert sizes == [16, 16, 8]


@pytest.mark.parametrize("mode", ["binary", "triplet"])
def test_two_layer_sage_runs_on_link_batches(mode):
    graph = random_graph()
    model = to_hetero(_SAGE(), graph.metadata())
    sampler = TorchNeighborSampler(graph, [4, 2], seed=5)
    label_index = graph[RATES].edge_index[:, :48]
    loader = LinkLoader(
        graph,
        link_sampler=sampler,
        edge_label_index=(RATES, label_index),
        neg_sampling={"mode": mode, "amount": 1},
        batch_size=16,
    )
    for batch in loader:
        out = model(batch.x_dict, batch.edge_index_dict)
        if mode == "binary":
            users, items = batch[RATES].edge_label_index
            labels = batch[RATES].edge_label
            assert labels.tolist() == [1.0] * 16 + [0.0] * 16
            positives = torch.stack(
                [batch["user"].n_id[users[:16]], batch["item"].n_id[items[:16]]]
            )
            assert set(map(tuple, positives.t().tolist())) <= set(
                map(tuple, label_index.t().tolist())
            )
        else:
            users = batch["user"].src_index
            items = batch["item"].dst_pos_index
        scores = (out["user"][users] * out["item"][items]).sum(-1)
        assert torch.isfinite(scores).all()
        check_hetero_batch(batch, graph, [4, 2])


def test_same_seed_same_batches_different_seed_different_batches():
    graph = random_graph()
    seeds = NodeSamplerInput(None, torch.arange(20), None, "user")

    def run(seed):
        out = TorchNeighborSampler(graph, [2, 2], seed=seed).sample_from_nodes(seeds)
        return out.node["item"], out.row[RATES], out.edge[REV_RATES]

    first, again, other = run(7), run(7), run(8)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(
        a.shape == b.shape and torch.equal(a, b) for a, b in zip(first, other, strict=True)
    )


def test_temporal_input_is_refused():
    graph = random_graph()
    sampler = TorchNeighborSampler(graph, [2])
    with pytest.raises(ConfigError, match="temporal"):
        sampler.sample_from_nodes(NodeSamplerInput(None, torch.arange(3), torch.zeros(3), "user"))


def test_factory_picks_pyg_when_a_backend_is_installed(monkeypatch):
    graph = random_graph()
    monkeypatch.setattr(torch_geometric.typing, "WITH_PYG_LIB", False)
    monkeypatch.setattr(torch_geometric.typing, "WITH_TORCH_SPARSE", False)
    assert isinstance(make_neighbor_sampler(graph, [2]), TorchNeighborSampler)

    made = []

    class FakePyGSampler:
        def __init__(self, data, num_neighbors):
            made.append(num_neighbors)

    monkeypatch.setattr(neighbors_module, "NeighborSampler", FakePyGSampler)
    monkeypatch.setattr(torch_geometric.typing, "WITH_TORCH_SPARSE", True)
    assert isinstance(make_neighbor_sampler(graph, [2, 1]), FakePyGSampler)
    assert made == [[2, 1]]
