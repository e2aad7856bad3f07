"""Graph building: train-only message passing, held-out labels, reverse edges, the flat view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from storex.config import GraphSettings
from storex.data.schema import interactions_frame
from storex.errors import DataError
from storex.graph import (
    RATES,
    REV_RATES,
    GraphBuilder,
    encode_interactions,
    interactions_fingerprint,
    split_edge_index,
    to_homogeneous_bipartite,
)
from storex.idmap import IdMap

# user, item, rating, time, split, positive
ROWS = [
    ("u1", "i1", 5.0, 10.0, "train", True),
    ("u1", "i2", 4.0, 20.0, "train", True),
    ("u1", "i3", 1.0, 30.0, "train", False),
    ("u2", "i1", 3.0, 5.0, "train", True),
    ("u2", "i1", 5.0, 50.0, "train", True),  # repeat of (u2, i1): the later row wins
    ("u2", "i4", 4.0, 60.0, "valid", True),
    ("u3", "i2", 5.0, 70.0, "test", True),
    ("u3", "i3", 2.0, 80.0, "valid", False),
    ("u3", "i4", 4.0, 15.0, "train", True),
]


def small_frame() -> pd.DataFrame:
    users, items, ratings, times, splits, positive = zip(*ROWS, strict=True)
    frame = interactions_frame(
        list(users), list(items), rating=list(ratings), timestamp=list(times), split=list(splits)
    )
    frame["positive"] = list(positive)
    return frame


def maps() -> tuple[IdMap, IdMap]:
    return IdMap(["u1", "u2", "u3"]), IdMap(["i1", "i2", "i3", "i4", "i5"])  # i5: never seen


def build():
    user_map, item_map = maps()
    user_x = np.arange(6, dtype=np.float32).reshape(3, 2)
    item_x = np.zeros((5, 0), dtype=np.float32)
    return GraphBuilder().build(
        small_frame(), user_map, item_map, user_x, item_x, ["age", "size"], []
    )


def pairs(edge_index: torch.Tensor) -> list[tuple[int, int]]:
    return [tuple(p) for p in edge_index.t().tolist()]


def test_nodes_carry_features_counts_and_ids():
    hetero = build()
    assert hetero["user"].num_nodes == 3 and hetero["item"].num_nodes == 5
    assert hetero["user"].x.shape == (3, 2) and hetero["item"].x.shape == (5, 0)
    assert hetero["user"].x.dtype == torch.float32
    assert torch.equal(hetero["item"].n_id, torch.arange(5))
    assert hetero.user_feature_names == ["age", "size"] and hetero.item_feature_names == []


def test_train_graph_holds_only_train_positives_once_each():
    hetero = build()
    assert pairs(hetero[RATES].edge_index) == [(0, 0), (0, 1), (1, 0), (2, 3)]
    # the repeated (u2, i1) pair keeps its most recent row
    assert hetero[RATES].rating.tolist() == [5.0, 4.0, 5.0, 4.0]
    assert hetero[RATES].timestamp.tolist() == [10.0, 20.0, 50.0, 15.0]
    assert hetero[RATES].timestamp.dtype == torch.float64
    assert hetero.num_merged_train_rows == 1


def test_no_held_out_pair_leaks_into_message_passing():
    hetero = build()
    train = set(pairs(hetero[RATES].edge_index))
    held_out = set(pairs(split_edge_index(hetero, "valid"))) | set(
        pairs(split_edge_index(hetero, "test"))
    )
    assert held_out == {(1, 3), (2, 1)}
    assert not train & held_out
    assert (0, 2) not in train  # a train row that is not positive carries no message


def test_held_out_positives_and_ratings_per_split():
    hetero = build()
    assert pairs(split_edge_index(hetero, "valid")) == [(1, 3)]
    assert pairs(split_edge_index(hetero, "test")) == [(2, 1)]
    assert hetero.valid_edge_rating.tolist() == [4.0]
    assert torch.equal(split_edge_index(hetero, "train"), hetero[RATES].edge_index)
    with pytest.raises(ValueError, match="split"):
        split_edge_index(hetero, "holdout")


def test_reverse_edges_mirror_forward_edges():
    hetero = build()
    assert torch.equal(hetero[REV_RATES].edge_index, hetero[RATES].edge_index.flip(0))
    assert torch.equal(hetero[REV_RATES].rating, hetero[RATES].rating)
    assert hetero.validate()


def test_homogeneous_view_is_symmetric_with_items_after_users():
    hetero = build()
    flat = to_homogeneous_bipartite(hetero)
    assert flat.num_nodes == 8 and flat.num_users == 3 and flat.num_items == 5
    edges = pairs(flat.edge_index)
    assert len(edges) == 2 * hetero[RATES].num_edges
    assert set(edges) == {(b, a) for a, b in edges}
    assert {(0, 3), (0, 4), (1, 3), (2, 6)} <= set(edges)  # item j becomes node 3 + j


def test_implicit_ratings_stay_missing():
    frame = small_frame()
    frame["rating"] = np.nan
    user_map, item_map = maps()
    hetero = GraphBuilder().build(frame, user_map, item_map, np.zeros((3, 0)), np.zeros((5, 0)))
    assert torch.isnan(hetero[RATES].rating).all()


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (lambda f: f.assign(item_id=f["item_id"].replace("i4", "zz")), "item_id"),
        (lambda f: f.assign(user_id=f["user_id"].replace("u3", "zz")), "user_id"),
        (lambda f: f.drop(columns="positive"), "positive"),
        (lambda f: f.assign(positive=1), "positive"),
        (lambda f: f.assign(split=f["split"].replace("test", "holdout")), "split"),
    ],
)
def test_bad_interactions_name_the_column(change, column):
    user_map, item_map = maps()
    with pytest.raises(DataError, match=f"column '{column}'"):
        encode_interactions(change(small_frame()), user_map, item_map)


def test_feature_shape_mismatch_names_the_array():
    user_map, item_map = maps()
    with pytest.raises(DataError, match="user_x"):
        GraphBuilder().build(small_frame(), user_map, item_map, np.zeros((2, 1)), np.zeros((5, 0)))
    with pytest.raises(DataError, match="item_x"):
        GraphBuilder().build(
            small_frame(), user_map, item_map, np.zeros((3, 0)), np.zeros((5, 2)), [], ["a"]
        )


def test_encoding_keeps_every_row_with_its_labels():
    user_map, item_map = maps()
    edge_index, labels = encode_interactions(small_frame(), user_map, item_map)
    assert edge_index.shape == (2, len(ROWS)) and edge_index.dtype == torch.int64
    assert labels["split"].tolist() == [0, 0, 0, 0, 0, 1, 2, 1, 0]
    assert labels["positive"].tolist() == [r[5] for r in ROWS]
    assert labels["rating"].dtype == torch.float32


def test_fingerprint_follows_content():
    frame = small_frame()
    same = small_frame()
    changed = small_frame()
    changed.loc[0, "rating"] = 4.0
    assert interactions_fingerprint(frame) == interactions_fingerprint(same)
    assert interactions_fingerprint(frame) != interactions_fingerprint(changed)
    assert len(interactions_fingerprint(frame)) == 64


def test_artifacts_pair_every_train_edge_with_its_negatives():
    user_map, item_map = maps()
    builder = GraphBuilder(GraphSettings(negatives_per_positive=2))
    art = builder.build_artifacts(
        small_frame(), user_map, item_map, np.zeros((3, 0)), np.zeros((5, 0)), seed=3
    )
    hetero = builder.build(small_frame(), user_map, item_map, np.zeros((3, 0)), np.zeros((5, 0)))
    train = hetero[RATES].edge_index
    positives = art.train_labels == 1
    assert torch.equal(art.train_edges[:, positives], train)
    assert int((art.train_labels == 0).sum()) == 2 * train.shape[1]
    negatives = set(pairs(art.train_edges[:, ~positives]))
    assert not negatives & set(pairs(train))
    # without sessions, each user's train rows in time order form the co-occurrence sequence
    assert art.item_graph is not None
    assert (0, 1) in set(pairs(art.item_graph[0]))  # u1: i1 then i2


def test_artifacts_can_rule_out_held_out_positives_from_negatives():
    user_map, item_map = maps()
    builder = GraphBuilder(GraphSettings(negatives_per_positive=4))
    for seed in range(5):
        art = builder.build_artifacts(
            small_frame(),
            user_map,
            item_map,
            np.zeros((3, 0)),
            np.zeros((5, 0)),
            seed=seed,
            exclude_heldout=True,
        )
        negatives = set(pairs(art.train_edges[:, art.train_labels == 0]))
        assert not negatives & {(1, 3), (2, 1)}
