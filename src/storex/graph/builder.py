"""Interactions table -> the user-item graph every GNN trains on.

Layout of the :class:`~torch_geometric.data.HeteroData` that :meth:`GraphBuilder.build` returns:

* ``hetero["user"]`` and ``hetero["item"]``: ``x`` (float32 ``[n, f]``, ``f`` may be 0),
  ``num_nodes`` and ``n_id`` (``0..n-1``; loaders carry it so a mini-batch knows global ids).
* ``hetero["user", "rates", "item"]``: ``edge_index`` of the **train positives only**, so held-out
  pairs never carry messages. One edge per (user, item) pair: repeated rows merge into the most
  recent one (their number is ``hetero.num_merged_train_rows``). Edges are sorted by user, then
  item, with per-edge ``rating`` (float32, NaN when implicit) and ``timestamp`` (float64
  seconds, NaN unknown).
* ``hetero["item", "rev_rates", "user"]``: the same edges reversed, same order and attributes.
* Held-out positives sit on the graph-level store, not on an edge store, so samplers and
  loaders never take them for message-passing edges or slice them as edge attributes:
  ``valid_edge_label_index`` / ``test_edge_label_index`` (``[2, n]`` rows ``[user; item]``, in
  table order, repeats kept) with ``valid_edge_rating`` / ``test_edge_rating``. Read them with
  :func:`split_edge_index`.
* ``hetero.user_feature_names`` / ``hetero.item_feature_names``: the columns of ``x``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from storex.config import GraphSettings
from storex.data.schema import SPLITS
from storex.errors import DataError
from storex.graph.artifacts import SPLIT_CODES, GraphArtifacts
from storex.graph.cooccurrence import build_item_cooccurrence
from storex.graph.encoding import encode_interactions, features_tensor, interactions_fingerprint
from storex.graph.negatives import KnownPositives, sample_negative_pairs
from storex.idmap import IdMap

log = logging.getLogger(__name__)

USER: Final = "user"
ITEM: Final = "item"
RATES: Final = (USER, "rates", ITEM)
REV_RATES: Final = (ITEM, "rev_rates", USER)


class GraphBuilder:
    """Turns the cleaned, split interactions into the training graph and its saved artifacts.

    ``settings`` sets the negatives (count and strategy) and the co-occurrence graph (window,
    top-n, and the pause that cuts a sessionless user's history) that :meth:`build_artifacts`
    adds next to the graph.
    """

    def __init__(self, settings: GraphSettings | None = None) -> None:
        self.settings = settings or GraphSettings()

    def build(
        self,
        interactions: pd.DataFrame,
        user_map: IdMap,
        item_map: IdMap,
        user_x: np.ndarray,
        item_x: np.ndarray,
        user_feature_names: Sequence[str] = (),
        item_feature_names: Sequence[str] = (),
    ) -> HeteroData:
        """The heterogeneous user-item graph (layout in the module docstring)."""
        return _encode(
            interactions, user_map, item_map, user_x, item_x, user_feature_names, item_feature_names
        )[-1]

    def build_artifacts(
        self,
        interactions: pd.DataFrame,
        user_map: IdMap,
        item_map: IdMap,
        user_x: np.ndarray,
        item_x: np.ndarray,
        user_feature_names: Sequence[str] = (),
        item_feature_names: Sequence[str] = (),
        *,
        seed: int = 42,
        exclude_heldout: bool = False,
    ) -> GraphArtifacts:
        """Everything :func:`storex.graph.artifacts.save_artifacts` writes.

        Training examples are the train graph's edges (label 1) followed by
        ``settings.negatives_per_positive`` negatives each (label 0). Negatives avoid the user's
        train positives; with ``exclude_heldout`` also their valid/test positives (that hides
        held-out pairs from the negatives, at the price of using held-out knowledge).
        """
        edge_index, labels, user_t, item_t, hetero = _encode(
            interactions, user_map, item_map, user_x, item_x, user_feature_names, item_feature_names
        )
        train = hetero[RATES].edge_index
        del hetero  # only its train edges are needed from here on
        # The item graph first: its temporaries are freed before the big example buffer exists.
        item_graph = build_item_cooccurrence(
            interactions,
            item_map,
            window=self.settings.cooccurrence_window,
            top_n=self.settings.cooccurrence_top_n,
            session_gap_minutes=self.settings.session_gap_minutes,
        )
        known_pairs = edge_index[:, labels["positive"]] if exclude_heldout else train
        train_edges, train_labels = sample_negative_pairs(
            train[0],
            train[1],
            len(item_map),
            ratio=self.settings.negatives_per_positive,
            strategy=self.settings.negative_sampling,
            known_positive=KnownPositives(known_pairs[0], known_pairs[1], len(item_map)),
            seed=seed,
        )
        return GraphArtifacts(
            edge_index=edge_index,
            labels=labels,
            user_x=user_t,
            item_x=item_t,
            user_feature_names=list(user_feature_names),
            item_feature_names=list(item_feature_names),
            user_map=user_map,
            item_map=item_map,
            train_edges=train_edges,
            train_labels=train_labels,
            item_graph=item_graph if item_graph[0].shape[1] else None,
            fingerprint=interactions_fingerprint(interactions),
            negatives={
                "per_positive": self.settings.negatives_per_positive,
                "strategy": self.settings.negative_sampling,
                "seed": seed,
                "exclude_heldout": exclude_heldout,
            },
        )


def _encode(
    interactions: pd.DataFrame,
    user_map: IdMap,
    item_map: IdMap,
    user_x: np.ndarray,
    item_x: np.ndarray,
    user_feature_names: Sequence[str],
    item_feature_names: Sequence[str],
) -> tuple[Tensor, dict[str, Tensor], Tensor, Tensor, HeteroData]:
    """Per-edge tensors, feature tensors and the graph assembled from them."""
    edge_index, labels = encode_interactions(interactions, user_map, item_map)
    user_t = features_tensor(user_x, len(user_map), user_feature_names, "user_x")
    item_t = features_tensor(item_x, len(item_map), item_feature_names, "item_x")
    hetero = assemble_hetero(
        edge_index, labels, user_t, item_t, user_feature_names, item_feature_names
    )
    return edge_index, labels, user_t, item_t, hetero


def assemble_hetero(
    edge_index: Tensor,
    labels: dict[str, Tensor],
    user_x: Tensor,
    item_x: Tensor,
    user_feature_names: Sequence[str] = (),
    item_feature_names: Sequence[str] = (),
) -> HeteroData:
    """The graph from encoded interactions: the one path shared by the builder and the dataset."""
    num_users, num_items = user_x.shape[0], item_x.shape[0]
    if edge_index.numel() and (
        int(edge_index[0].max()) >= num_users or int(edge_index[1].max()) >= num_items
    ):
        raise DataError(
            f"edge_index points past the {num_users} users / {num_items} items of the features"
        )
    hetero = HeteroData()
    for node_type, x in ((USER, user_x), (ITEM, item_x)):
        hetero[node_type].x = x
        hetero[node_type].num_nodes = x.shape[0]
        hetero[node_type].n_id = torch.arange(x.shape[0])
    hetero.user_feature_names = list(user_feature_names)
    hetero.item_feature_names = list(item_feature_names)

    positive, split = labels["positive"], labels["split"]
    train_rows = torch.nonzero(positive & (split == SPLIT_CODES["train"])).view(-1)
    keep, merged = _latest_per_pair(
        edge_index[:, train_rows], labels["timestamp"][train_rows], num_items
    )
    train_rows = train_rows[keep]
    train_edges = edge_index[:, train_rows]
    for edge_type, index in ((RATES, train_edges), (REV_RATES, train_edges.flip(0))):
        hetero[edge_type].edge_index = index.contiguous()
        hetero[edge_type].rating = labels["rating"][train_rows]
        hetero[edge_type].timestamp = labels["timestamp"][train_rows]
    hetero.num_merged_train_rows = merged
    if merged:
        log.info("merged %d repeated train (user, item) rows into one edge each", merged)

    for name in ("valid", "test"):
        rows = torch.nonzero(positive & (split == SPLIT_CODES[name])).view(-1)
        setattr(hetero, f"{name}_edge_label_index", edge_index[:, rows].contiguous())
        setattr(hetero, f"{name}_edge_rating", labels["rating"][rows])
    return hetero


def split_edge_index(hetero: HeteroData, split: str) -> Tensor:
    """Positive ``[user; item]`` pairs of ``split``: the train graph or a held-out label set."""
    if split == "train":
        return hetero[RATES].edge_index
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    found = getattr(hetero, f"{split}_edge_label_index", None)
    if found is None:
        raise DataError(f"the graph holds no {split} positives (not built by GraphBuilder?)")
    return found


def to_homogeneous_bipartite(hetero: HeteroData) -> Data:
    """One node set (users ``0..U-1``, items ``U..U+I-1``) holding both edge directions.

    The view LightGCN-style models propagate over. Features are left out: user and item
    features differ in width. ``num_users`` / ``num_items`` say where the item block starts.
    """
    num_users, num_items = hetero[USER].num_nodes, hetero[ITEM].num_nodes
    users, items = hetero[RATES].edge_index
    items = items + num_users
    edge_index = torch.stack([torch.cat([users, items]), torch.cat([items, users])])
    return Data(
        edge_index=edge_index,
        num_nodes=num_users + num_items,
        num_users=num_users,
        num_items=num_items,
    )


def _latest_per_pair(pairs: Tensor, timestamp: Tensor, num_items: int) -> tuple[Tensor, int]:
    """Positions in ``pairs`` of the most recent row per (user, item), sorted by pair.

    Unknown times count as oldest; among equal times the later row wins.
    """
    key = (pairs[0] * num_items + pairs[1]).numpy()
    when = np.nan_to_num(timestamp.numpy(), nan=-np.inf)
    order = np.lexsort((np.arange(key.size), when, key))
    sorted_key = key[order]
    last = np.ones(key.size, dtype=bool)
    last[:-1] = sorted_key[1:] != sorted_key[:-1]
    keep = order[last]
    return torch.from_numpy(keep), int(key.size - keep.size)
