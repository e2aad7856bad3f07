"""The artifacts folder as a PyG dataset: processed once into a cached graph, then reused.

``root`` is the artifacts folder itself (the raw stage: the files of
:mod:`storex.graph.artifacts`); the processed graph is cached in ``root/processed`` under a name
holding the artifacts' content fingerprint, so new artifacts are processed afresh and old caches
are never served for them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData, InMemoryDataset

from storex.errors import MissingDataError
from storex.graph.artifacts import (
    ITEM_GRAPH,
    ITEM_MAP,
    REQUIRED_FILES,
    TRAIN_EDGES,
    TRAIN_LABELS,
    USER_MAP,
    load_artifacts,
    load_manifest,
)
from storex.graph.builder import assemble_hetero, to_homogeneous_bipartite
from storex.idmap import IdMap


class StoreXDataset(InMemoryDataset):
    """One heterogeneous user-item graph read from a saved artifacts folder.

    Parameters
    ----------
    root
        The artifacts folder written by :func:`storex.graph.artifacts.save_artifacts`.
    transform, force_reload
        As for :class:`~torch_geometric.data.InMemoryDataset` (``pre_transform`` is not offered:
        the cached graph must stay the builder's graph).
    """

    def __init__(
        self,
        root: str | Path,
        transform: Callable[[HeteroData], HeteroData] | None = None,
        force_reload: bool = False,
    ) -> None:
        self._manifest = load_manifest(root)
        super().__init__(str(root), transform=transform, force_reload=force_reload, log=False)
        self.load(self.processed_paths[0], data_cls=HeteroData)

    @property
    def raw_dir(self) -> str:
        return self.root

    @property
    def processed_dir(self) -> str:
        return str(Path(self.root) / "processed")

    @property
    def raw_file_names(self) -> list[str]:
        return list(dict.fromkeys([*REQUIRED_FILES, *self._manifest["files"]]))

    @property
    def processed_file_names(self) -> list[str]:
        return [f"hetero-{self._manifest['fingerprint'][:16]}.pt"]

    def download(self) -> None:
        missing = [n for n in self.raw_file_names if not (Path(self.raw_dir) / n).is_file()]
        raise MissingDataError(f"artifact file(s) missing: {missing}", path=self.raw_dir)

    def process(self) -> None:
        art = load_artifacts(self.raw_dir)
        hetero = assemble_hetero(
            art.edge_index,
            art.labels,
            art.user_x,
            art.item_x,
            art.user_feature_names,
            art.item_feature_names,
        )
        self.save([hetero], self.processed_paths[0])

    @property
    def hetero(self) -> HeteroData:
        """The user-item graph (layout in :mod:`storex.graph.builder`)."""
        return self[0]

    @property
    def homogeneous(self) -> Data:
        """Users then items in one node set, both edge directions (the LightGCN view)."""
        return to_homogeneous_bipartite(self.hetero)

    @property
    def manifest(self) -> dict[str, Any]:
        return self._manifest

    @cached_property
    def user_map(self) -> IdMap:
        return IdMap.load(Path(self.raw_dir) / USER_MAP)

    @cached_property
    def item_map(self) -> IdMap:
        return IdMap.load(Path(self.raw_dir) / ITEM_MAP)

    @property
    def train_examples(self) -> tuple[Tensor, Tensor]:
        """``(edges [2, T], labels [T])``: train positives and their saved negatives.

        Read as saved; the files were checked against the manifest when the graph was processed.
        """
        folder = Path(self.raw_dir)
        return (
            torch.load(folder / TRAIN_EDGES, weights_only=True),
            torch.load(folder / TRAIN_LABELS, weights_only=True),
        )

    @property
    def item_graph(self) -> tuple[Tensor, Tensor] | None:
        """``(edge_index, edge_weight)`` of the item co-occurrence graph, if one was saved."""
        if ITEM_GRAPH not in self._manifest["files"]:
            return None
        saved = torch.load(Path(self.raw_dir) / ITEM_GRAPH, weights_only=True)
        return saved["edge_index"], saved["edge_weight"]
