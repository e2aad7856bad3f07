"""The item graph: training sessions only, windowed, weighted, top-N, undirected."""

from __future__ import annotations

import numpy as np
import torch

from storex.data.schema import StoreData, interactions_frame
from storex.sessions import SessionDataSettings, build_item_graph, prepare_sessions
from storex.sessions.graph import add_self_loops
from tests.sessions.planted import CHAIN_LENGTH, planted_dataset
from tests.sessions.test_samples import table


def edges(graph) -> dict[tuple[int, int], float]:
    pairs = graph.edge_index.T.tolist()
    return {tuple(p): w for p, w in zip(pairs, graph.edge_weight.tolist(), strict=True)}


def test_counts_within_the_window_both_ways() -> None:
    graph = build_item_graph(table([0, 1, 2, 3], [0, 1]), num_items=5, window=2, top_n=10)
    found = edges(graph)
    assert found[(0, 1)] == found[(1, 0)] == 2.0  # two sessions hold 0 next to 1
    assert found[(0, 2)] == 1.0 and (0, 3) not in found  # 3 is three steps from 0
    assert not any(a == b for a, b in found)  # no self-pairs
    assert all(4 not in pair for pair in found)  # an item in no session has no edge
    assert graph.num_items == 5


def test_top_n_keeps_the_heaviest_and_stays_symmetric() -> None:
    sessions = [[0, 1]] * 3 + [[0, 2]] * 2 + [[0, 3]]
    graph = build_item_graph(table(*sessions), num_items=4, window=1, top_n=2)
    found = edges(graph)
    assert found[(0, 1)] == 3.0 and found[(0, 2)] == 2.0
    assert (0, 3) in found  # 0 is in 3's top 2, so the edge is kept, both ways
    assert set(found) == {(b, a) for a, b in found}


def test_graph_is_built_from_training_sessions_only() -> None:
    days = [*range(14), 20, 21, 22, 30, 31, 32]
    steps = [["a", "c"], ["b", "c"]] * 7 + [["a", "b"]] * 6  # a next to b only after training
    times = [d * 86_400.0 + 60 * k for d, s in zip(days, steps, strict=True) for k in range(len(s))]
    frame = interactions_frame(
        [f"u{n}" for n, s in enumerate(steps) for _ in s],
        [item for s in steps for item in s],
        timestamp=times,
        event="view",
        session_id=[f"s{n}" for n, s in enumerate(steps) for _ in s],
    )
    data = prepare_sessions(StoreData("t", frame), SessionDataSettings(blackout_days=1.0))
    assert data.report["test_samples"] == 3 and data.report["valid_samples"] == 3
    a, b, c = (data.split.item_map.index(x) for x in "abc")
    found = edges(data.graph)
    assert found[(a, c)] == found[(b, c)] == 7.0
    assert (a, b) not in found and (b, a) not in found


def test_planted_graph_stays_inside_chains() -> None:
    data = planted_dataset(sessions=300, seed=1)
    found = set(edges(data.graph))
    assert found and not {(a, b) for a, b in found if a // CHAIN_LENGTH != b // CHAIN_LENGTH}
    assert data.graph.edge_index.max() < data.num_items


def test_self_loops_add_one_edge_per_item() -> None:
    graph = build_item_graph(table([0, 1]), num_items=3)
    looped = add_self_loops(graph)
    assert looped.num_edges == graph.num_edges + 3
    loops = looped.edge_index[:, looped.edge_index[0] == looped.edge_index[1]]
    assert torch.equal(loops[0].sort().values, torch.arange(3))
    assert np.isclose(looped.edge_weight[-3:].numpy(), 1.0).all()
