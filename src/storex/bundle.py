"""ModelBundle: a trained model with everything serving needs, in one versioned folder.

::

    <root>/<name>/<version>/
        bundle.json        name, version, created, model name and params, metrics, data
                           fingerprint, code version, training history
        model/             model.json + model.pt (the Recommender's own save)
        graph.pt           training positives [user; item] with ratings, user and item features
        user2idx.json, item2idx.json
        item_encoder.*, user_encoder.*   fitted feature encoders (when the data had them)
        items.faiss        nearest-neighbour index over the item factors (big catalogues only)

Serving needs no training data: the graph and encoders travel with the model. The folder is
written atomically, so a half-written bundle never appears under its version.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

import storex
from storex.config import get_settings
from storex.errors import MissingDataError, ModelError
from storex.graph.artifacts import ITEM_MAP, USER_MAP
from storex.idmap import IdMap
from storex.io import atomic_dir, write_json
from storex.models.base import Recommender
from storex.models.data import InteractionData
from storex.retrieval.ann import INDEX_FILE, ItemIndex, needs_index

BUNDLE_FILE = "bundle.json"
GRAPH_FILE = "graph.pt"
MODEL_DIR = "model"
ENCODER_FILES = ("item_encoder.json", "item_encoder.npz", "user_encoder.json", "user_encoder.npz")


@dataclass
class ModelBundle:
    """A fitted model plus its id maps, training graph, encoders folder and metadata."""

    model: Recommender
    data: InteractionData
    user_map: IdMap
    item_map: IdMap
    info: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    index: ItemIndex | None = None
    """Nearest-neighbour index over the item factors; None: rank by an exact scan."""

    @property
    def version(self) -> str:
        return str(self.info.get("version", ""))

    def save(
        self,
        folder: str | Path,
        *,
        artifacts_dir: str | Path | None = None,
        ann_min_items: int | None = None,
    ) -> Path:
        """Write the bundle to ``folder`` (replaced whole, atomically).

        ``artifacts_dir`` is the prepared-data folder the model was trained from; its fitted
        encoders are copied so that serving can encode a new user or item as in training.
        A model with factors and at least ``ann_min_items`` items (default: the
        ``retrieval.ann_min_items`` setting) gets its nearest-neighbour index built and saved.
        """
        folder = Path(folder)
        self.index = self.index or _index_for(self.model, ann_min_items)
        with atomic_dir(folder) as staging:
            if self.index is not None:
                self.index.save(staging / INDEX_FILE)
            self.model.save(staging / MODEL_DIR)
            torch.save(_graph_payload(self.data), staging / GRAPH_FILE)
            self.user_map.save(staging / USER_MAP)
            self.item_map.save(staging / ITEM_MAP)
            if artifacts_dir is not None:
                for name in ENCODER_FILES:
                    source = Path(artifacts_dir) / name
                    if source.is_file():
                        shutil.copy2(source, staging / name)
            write_json(staging / BUNDLE_FILE, self.info)
        self.path = folder
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ModelBundle:
        """Load a bundle; a missing or damaged part raises a ModelError naming it."""
        folder = Path(folder)
        if not (folder / BUNDLE_FILE).is_file():
            raise MissingDataError(f"no model bundle here (missing {BUNDLE_FILE})", path=folder)
        try:
            info = json.loads((folder / BUNDLE_FILE).read_text())
        except json.JSONDecodeError as exc:
            raise ModelError(f"{folder / BUNDLE_FILE}: not valid JSON ({exc})") from exc
        try:
            graph = torch.load(folder / GRAPH_FILE, weights_only=True)
        except FileNotFoundError as exc:
            raise ModelError(f"{folder / GRAPH_FILE}: training graph missing") from exc
        except Exception as exc:  # torch raises several types for a damaged file
            raise ModelError(f"{folder / GRAPH_FILE}: cannot read: {exc}") from exc
        try:
            user_map = IdMap.load(folder / USER_MAP)
            item_map = IdMap.load(folder / ITEM_MAP)
        except (OSError, ValueError) as exc:
            raise ModelError(f"{folder}: id maps missing or damaged: {exc}") from exc
        model = Recommender.load(folder / MODEL_DIR)
        index = _saved_index(model, folder / INDEX_FILE)
        return cls(model, _data_from_payload(graph), user_map, item_map, info, folder, index)


def _index_for(model: Recommender, min_items: int | None) -> ItemIndex | None:
    """A new index over the model's item factors when it has them and a catalogue of at
    least ``min_items`` (default: the ``retrieval.ann_min_items`` setting); None otherwise."""
    factors = model.dot_factors()
    if min_items is None:
        min_items = get_settings().retrieval.ann_min_items
    if factors is None or not needs_index(factors[1].shape[0], min_items):
        return None
    return ItemIndex(factors[1], queries=factors[0])


def _saved_index(model: Recommender, path: Path) -> ItemIndex | None:
    """The index the bundle was saved with (rebuilt if unreadable), or None if it had none."""
    factors = model.dot_factors()
    if factors is None or not path.is_file():
        return None
    return ItemIndex.load(path, factors[1])


def describe(
    model: Recommender,
    *,
    version: str,
    metrics: dict[str, Any],
    fingerprint: str,
    history: list[dict[str, Any]] | None = None,
    dataset: str = "",
) -> dict[str, Any]:
    """The ``bundle.json`` content: what was trained, on what, how well, by which code."""
    return {
        "name": model.name,
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": dataset,
        "model": model.name,
        "params": model.get_params(),
        "metrics": metrics,
        "data_fingerprint": fingerprint,
        "code_version": code_version(),
        "history": history or [],
    }


def new_version() -> str:
    """A sortable version id: UTC time to the second."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def code_version() -> str:
    """storex version plus the git commit when running from a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            check=False,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{storex.__version__}+{commit}" if commit else storex.__version__


def _graph_payload(data: InteractionData) -> dict[str, Any]:
    return {
        "num_users": data.num_users,
        "num_items": data.num_items,
        "train": data.train,
        "train_rating": data.train_rating,
        "user_x": data.user_x,
        "item_x": data.item_x,
    }


def _data_from_payload(graph: dict[str, Any]) -> InteractionData:
    """The training graph as InteractionData (held-out splits are not shipped)."""
    empty_pairs = torch.empty(2, 0, dtype=torch.long)
    empty = torch.empty(0)
    return InteractionData(
        num_users=int(graph["num_users"]),
        num_items=int(graph["num_items"]),
        train=graph["train"],
        valid=empty_pairs,
        test=empty_pairs,
        train_rating=graph["train_rating"],
        valid_rating=empty,
        test_rating=empty,
        user_x=graph["user_x"],
        item_x=graph["item_x"],
    )
