"""The graph artifacts folder: what is saved, under which names, and how it is checked on load.

::

    edge_index.pt     int64 [2, E]: every interaction as [user_idx; item_idx], table order
    labels.pt         {rating f32, positive bool, timestamp f64, split int8 (0/1/2)}, each [E]
    features.pt       {user f32 [U, Fu], item f32 [I, Fi], user_names [str], item_names [str]}
    user2idx.json     external user id -> index (IdMap layout)
    item2idx.json     external item id -> index
    train_edges.pt    int64 [2, T]: train positives then their sampled negatives
    train_labels.pt   f32 [T]: 1 for positives, 0 for negatives
    item_graph.pt     {edge_index int64 [2, M], edge_weight f32 [M]} (only when non-empty)
    manifest.json     counts, feature sizes, content fingerprint, file checksums, version

Tensors are written with :func:`torch.save` and read with ``weights_only=True`` (plain tensors,
dicts, lists and strings only). The folder is written through :func:`storex.io.atomic_dir`, so
a failed save never replaces a good folder. :func:`load_artifacts` checks presence, checksums
and shapes and raises :class:`~storex.errors.DataError` (``MissingDataError`` for a missing
file) naming the offending file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import torch
from torch import Tensor

import storex
from storex.data.schema import SPLITS
from storex.errors import DataError, MissingDataError
from storex.idmap import IdMap
from storex.io import atomic_dir, read_json, write_json

FORMAT_VERSION: Final = 1
SPLIT_CODES: Final = {name: code for code, name in enumerate(SPLITS)}
LABEL_KEYS: Final = ("rating", "positive", "timestamp", "split")

EDGE_INDEX: Final = "edge_index.pt"
LABELS: Final = "labels.pt"
FEATURES: Final = "features.pt"
USER_MAP: Final = "user2idx.json"
ITEM_MAP: Final = "item2idx.json"
TRAIN_EDGES: Final = "train_edges.pt"
TRAIN_LABELS: Final = "train_labels.pt"
ITEM_GRAPH: Final = "item_graph.pt"
MANIFEST: Final = "manifest.json"
REQUIRED_FILES: Final = (
    EDGE_INDEX,
    LABELS,
    FEATURES,
    USER_MAP,
    ITEM_MAP,
    TRAIN_EDGES,
    TRAIN_LABELS,
    MANIFEST,
)


@dataclass
class GraphArtifacts:
    """Everything in an artifacts folder, in memory (see the module docstring for shapes)."""

    edge_index: Tensor
    labels: dict[str, Tensor]
    user_x: Tensor
    item_x: Tensor
    user_feature_names: list[str]
    item_feature_names: list[str]
    user_map: IdMap
    item_map: IdMap
    train_edges: Tensor
    train_labels: Tensor
    item_graph: tuple[Tensor, Tensor] | None
    fingerprint: str
    negatives: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        """The numbers a reader checks before loading anything big."""
        split = self.labels["split"]
        positive = self.labels["positive"]
        train_graph_edges = int((self.train_labels == 1).sum())
        train_positive_rows = int((positive & (split == SPLIT_CODES["train"])).sum())
        return {
            "users": len(self.user_map),
            "items": len(self.item_map),
            "interactions": int(self.edge_index.shape[1]),
            "interactions_per_split": {s: int((split == c).sum()) for s, c in SPLIT_CODES.items()},
            "positives_per_split": {
                s: int((positive & (split == c)).sum()) for s, c in SPLIT_CODES.items()
            },
            "train_graph_edges": train_graph_edges,
            "merged_train_rows": train_positive_rows - train_graph_edges,
            "train_examples": int(self.train_labels.numel()),
            "item_graph_edges": 0 if self.item_graph is None else int(self.item_graph[1].numel()),
        }


def save_artifacts(
    artifacts: GraphArtifacts,
    folder: str | Path,
    *,
    extras: Callable[[Path], None] | None = None,
) -> dict[str, Any]:
    """Write the folder atomically and return the manifest written with it.

    ``extras(staging)`` may add files of other stages (reports, fitted encoders) so that they
    appear together with the graph or not at all.
    """
    _check(artifacts, Path(folder))
    with atomic_dir(folder) as staging:
        if extras is not None:
            extras(staging)
        torch.save(artifacts.edge_index, staging / EDGE_INDEX)
        torch.save(artifacts.labels, staging / LABELS)
        torch.save(
            {
                "user": artifacts.user_x,
                "item": artifacts.item_x,
                "user_names": list(artifacts.user_feature_names),
                "item_names": list(artifacts.item_feature_names),
            },
            staging / FEATURES,
        )
        artifacts.user_map.save(staging / USER_MAP)
        artifacts.item_map.save(staging / ITEM_MAP)
        torch.save(artifacts.train_edges, staging / TRAIN_EDGES)
        torch.save(artifacts.train_labels, staging / TRAIN_LABELS)
        names = [n for n in REQUIRED_FILES if n != MANIFEST]
        if artifacts.item_graph is not None:
            edge_index, edge_weight = artifacts.item_graph
            torch.save({"edge_index": edge_index, "edge_weight": edge_weight}, staging / ITEM_GRAPH)
            names.append(ITEM_GRAPH)
        manifest = {
            "format_version": FORMAT_VERSION,
            "storex_version": storex.__version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "fingerprint": artifacts.fingerprint,
            "counts": artifacts.counts(),
            "feature_dims": {
                "user": int(artifacts.user_x.shape[1]),
                "item": int(artifacts.item_x.shape[1]),
            },
            "negatives": artifacts.negatives,
            "files": {name: _sha256(staging / name) for name in names},
        }
        write_json(staging / MANIFEST, manifest)
    artifacts.manifest = manifest
    return manifest


def load_manifest(folder: str | Path) -> dict[str, Any]:
    """Read and sanity-check ``manifest.json`` alone (cheap: no tensors)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise MissingDataError("graph artifacts manifest not found", path=path)
    try:
        manifest = read_json(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"not readable as JSON: {exc}", path=path) from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(f"expected a manifest with format_version {FORMAT_VERSION}", path=path)
    for key in ("fingerprint", "counts", "files"):
        if key not in manifest:
            raise DataError(f"manifest lacks {key!r}", path=path)
    return manifest


def load_artifacts(folder: str | Path) -> GraphArtifacts:
    """Load and validate a folder written by :func:`save_artifacts`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingDataError("graph artifacts folder not found", path=folder)
    manifest = load_manifest(folder)
    expected = dict.fromkeys([*REQUIRED_FILES, *manifest["files"]])
    missing = [n for n in expected if not (folder / n).is_file()]
    if missing:
        raise MissingDataError(
            f"artifact file missing (also missing: {missing[1:]})", path=folder / missing[0]
        )
    for name, checksum in manifest["files"].items():
        if _sha256(folder / name) != checksum:
            raise DataError(
                "checksum differs from manifest.json: file changed or corrupt", path=folder / name
            )

    features = _load(folder, FEATURES, dict)
    item_graph = None
    if ITEM_GRAPH in manifest["files"]:
        raw_graph = _load(folder, ITEM_GRAPH, dict)
        item_graph = (
            _get(raw_graph, "edge_index", folder / ITEM_GRAPH),
            _get(raw_graph, "edge_weight", folder / ITEM_GRAPH),
        )
    artifacts = GraphArtifacts(
        edge_index=_load(folder, EDGE_INDEX, Tensor),
        labels=_load(folder, LABELS, dict),
        user_x=_get(features, "user", folder / FEATURES),
        item_x=_get(features, "item", folder / FEATURES),
        user_feature_names=list(_get(features, "user_names", folder / FEATURES)),
        item_feature_names=list(_get(features, "item_names", folder / FEATURES)),
        user_map=_load_map(folder / USER_MAP),
        item_map=_load_map(folder / ITEM_MAP),
        train_edges=_load(folder, TRAIN_EDGES, Tensor),
        train_labels=_load(folder, TRAIN_LABELS, Tensor),
        item_graph=item_graph,
        fingerprint=str(manifest["fingerprint"]),
        negatives=dict(manifest.get("negatives", {})),
        manifest=manifest,
    )
    _check(artifacts, folder)
    if artifacts.counts() != manifest["counts"]:
        raise DataError("counts differ from the files they describe", path=folder / MANIFEST)
    return artifacts


def _check(art: GraphArtifacts, folder: Path) -> None:
    """Shapes, dtypes and index bounds; raises DataError naming the file at fault."""
    num_users, num_items = len(art.user_map), len(art.item_map)
    _expect_edges(art.edge_index, num_users, num_items, folder / EDGE_INDEX)
    num_edges = art.edge_index.shape[1]
    if set(art.labels) != set(LABEL_KEYS):
        raise DataError(
            f"expected keys {list(LABEL_KEYS)}, got {sorted(art.labels)}", path=folder / LABELS
        )
    for key, value in art.labels.items():
        if not isinstance(value, Tensor) or tuple(value.shape) != (num_edges,):
            raise DataError(
                f"{key!r} must be a tensor of shape ({num_edges},)", path=folder / LABELS
            )
    if art.labels["split"].numel() and int(art.labels["split"].max()) >= len(SPLITS):
        raise DataError(
            "split codes must be 0 (train), 1 (valid) or 2 (test)", path=folder / LABELS
        )
    for what, x, rows, names in (
        ("user", art.user_x, num_users, art.user_feature_names),
        ("item", art.item_x, num_items, art.item_feature_names),
    ):
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] != rows:
            raise DataError(
                f"{what} features must have shape ({rows}, n_features)", path=folder / FEATURES
            )
        if len(names) not in (0, x.shape[1]):
            raise DataError(
                f"{len(names)} {what} feature names for {x.shape[1]} columns",
                path=folder / FEATURES,
            )
    _expect_edges(art.train_edges, num_users, num_items, folder / TRAIN_EDGES)
    if tuple(art.train_labels.shape) != (art.train_edges.shape[1],):
        raise DataError(
            f"expected shape ({art.train_edges.shape[1]},) to match train_edges.pt",
            path=folder / TRAIN_LABELS,
        )
    if art.item_graph is not None:
        edge_index, edge_weight = art.item_graph
        _expect_edges(edge_index, num_items, num_items, folder / ITEM_GRAPH)
        if tuple(edge_weight.shape) != (edge_index.shape[1],):
            raise DataError("edge_weight must have one value per edge", path=folder / ITEM_GRAPH)


def _expect_edges(edges: object, num_src: int, num_dst: int, path: Path) -> None:
    if not isinstance(edges, Tensor) or edges.dim() != 2 or edges.shape[0] != 2:
        raise DataError("expected an int64 tensor of shape (2, n)", path=path)
    if edges.dtype != torch.int64:
        raise DataError(f"expected dtype int64, got {edges.dtype}", path=path)
    if edges.numel() and (
        int(edges.min()) < 0 or int(edges[0].max()) >= num_src or int(edges[1].max()) >= num_dst
    ):
        raise DataError(f"indices outside {num_src} x {num_dst} nodes", path=path)


def _load(folder: Path, name: str, kind: type) -> Any:
    path = folder / name
    try:
        value = torch.load(path, weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise DataError(f"cannot be read as a saved tensor file: {exc}", path=path) from exc
    if not isinstance(value, kind):
        raise DataError(f"expected a {kind.__name__}, got {type(value).__name__}", path=path)
    return value


def _get(mapping: dict[str, Any], key: str, path: Path) -> Any:
    if key not in mapping:
        raise DataError(f"lacks the entry {key!r}", path=path)
    return mapping[key]


def _load_map(path: Path) -> IdMap:
    try:
        return IdMap.load(path)
    except (OSError, ValueError, AttributeError) as exc:
        raise DataError(f"not a valid id map: {exc}", path=path) from exc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
