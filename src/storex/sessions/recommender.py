"""A trained session model with its item ids: fit, score, save and load.

A saved model is a folder: ``manifest.json`` (settings, sizes, version, training summary),
``items.json`` (external item id -> index), ``popularity.npy`` (training counts, for empty
sessions) and ``weights.pt`` (the network's tensors and the final item states), read back
with pickling off. Serving needs nothing else: the item states are stored, so neither the
graph nor the training data is loaded.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from storex.config import load_settings
from storex.errors import ModelError, NotFittedError
from storex.idmap import IdMap
from storex.io import atomic_dir, read_json, write_json
from storex.sessions.dataset import SessionDataset
from storex.sessions.model import SessionGraphModule, SessionModelConfig, SessionScoringModule
from storex.sessions.positional import laplacian_encodings
from storex.sessions.prior import neighbour_table
from storex.sessions.training import train_module

FORMAT = "storex-session-model/1"
FILES = ("manifest.json", "items.json", "popularity.npy", "weights.pt")


class SessionRecommender:
    """A session model (GraphSAGE, GAT or graph transformer encoder) and what it serves with.

    Parameters
    ----------
    config
        Hyperparameters (:class:`SessionModelConfig`).
    name
        Name in reports (default: the encoder kind).
    """

    def __init__(self, config: SessionModelConfig | None = None, name: str | None = None) -> None:
        self.config = config or SessionModelConfig()
        self.name = name or self.config.encoder
        self.module_: SessionGraphModule | None = None
        self.scoring_: SessionScoringModule | None = None
        self.item_map_: IdMap | None = None
        self.popularity_: np.ndarray | None = None
        self.history_: list[dict[str, Any]] = []
        self.training_: dict[str, Any] = {}
        self.version_ = ""

    def __repr__(self) -> str:
        return f"SessionRecommender(name={self.name!r}, config={self.config!r})"

    def fit(
        self,
        data: SessionDataset,
        *,
        cache_dir: str | Path | None = None,
        log_path: str | Path | None = None,
    ) -> SessionRecommender:
        """Train on ``data``'s train samples, early stopping on its valid samples.

        ``cache_dir`` keeps the positional encodings (default: the StoreX cache folder).
        """
        started = time.perf_counter()
        torch.set_num_threads(self.config.threads)
        encodings = None
        if self.config.pe_dim:
            cache = Path(cache_dir) if cache_dir else load_settings().cache_dir / "sessions"
            encodings = laplacian_encodings(data.graph, self.config.pe_dim, cache_dir=cache)
        train = data.samples["train"]
        neighbours = neighbour_table(data.graph) if self.config.graph_prior else None
        module = SessionGraphModule(
            self.config, data.num_items, train.max_length, encodings, neighbours
        )
        self.history_ = train_module(
            module, data.graph, train, data.samples["valid"], self.config, log_path=log_path
        )
        with torch.no_grad():
            states = module.item_states(data.graph)
        self.module_ = module
        self.scoring_ = SessionScoringModule(module, states).eval()
        self.item_map_ = data.split.item_map
        self.popularity_ = data.popularity.astype(np.float64)
        self.training_ = _summary(self.history_, time.perf_counter() - started)
        self.version_ = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        return self

    @property
    def max_length(self) -> int:
        return self._module().readout.max_length

    @property
    def num_items(self) -> int:
        return self._module().num_items

    def scores(self, items: Tensor, events: Tensor) -> Tensor:
        """``(B, N)`` scores of every item for padded prefixes (see ``samples``)."""
        scoring = self._scoring()
        with torch.no_grad():
            return scoring(items, events)

    def scoring_module(self) -> SessionScoringModule:
        """The fixed-states scorer (what the ONNX export holds)."""
        return self._scoring()

    def save(self, folder: str | Path) -> Path:
        """Write the model folder (replaced whole, atomically)."""
        scoring = self._scoring()
        item_map, popularity = self.item_map, self.popularity
        with atomic_dir(folder) as tmp:
            write_json(
                tmp / "manifest.json",
                {
                    "format": FORMAT,
                    "name": self.name,
                    "version": self.version_,
                    "config": self.config.to_dict(),
                    "num_items": self.num_items,
                    "max_length": self.max_length,
                    "training": self.training_,
                },
            )
            item_map.save(tmp / "items.json")
            np.save(tmp / "popularity.npy", popularity, allow_pickle=False)
            torch.save(
                {"module": self._module().state_dict(), "states": scoring.states},
                tmp / "weights.pt",
            )
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path) -> SessionRecommender:
        """A saved model, ready to score; a missing or damaged folder is a ModelError."""
        folder = Path(folder)
        missing = [name for name in FILES if not (folder / name).is_file()]
        if missing:
            raise ModelError(f"{folder}: not a saved session model (missing {missing})")
        try:
            manifest = read_json(folder / "manifest.json")
            if manifest.get("format") != FORMAT:
                raise ModelError(f"{folder}: format {manifest.get('format')!r}, expected {FORMAT}")
            config = SessionModelConfig.from_dict(manifest["config"])
            model = cls(config, manifest["name"])
            weights = torch.load(folder / "weights.pt", map_location="cpu", weights_only=True)
            num_items, pe_dim = int(manifest["num_items"]), config.pe_dim
            placeholder = torch.zeros(num_items, pe_dim) if pe_dim else None
            module = SessionGraphModule(
                config,
                num_items,
                int(manifest["max_length"]),
                placeholder,
                _neighbour_placeholder(weights["module"]) if config.graph_prior else None,
            )
            module.load_state_dict(weights["module"])
            module.eval()
            item_map = IdMap.load(folder / "items.json")
            popularity = np.load(folder / "popularity.npy", allow_pickle=False)
        except ModelError:
            raise
        except Exception as exc:  # json, torch and numpy raise several kinds for bad files
            raise ModelError(f"{folder}: cannot load the session model: {exc}") from exc
        if len(item_map) != num_items or popularity.shape != (num_items,):
            raise ModelError(f"{folder}: item map, popularity and weights disagree on item count")
        model.module_ = module
        model.scoring_ = SessionScoringModule(module, weights["states"]).eval()
        model.item_map_ = item_map
        model.popularity_ = popularity
        model.version_ = str(manifest.get("version", ""))
        model.training_ = dict(manifest.get("training", {}))
        return model

    def _module(self) -> SessionGraphModule:
        if self.module_ is None:
            raise NotFittedError(f"{self.name} is not fitted; call fit or load first")
        return self.module_

    def _scoring(self) -> SessionScoringModule:
        if self.scoring_ is None:
            raise NotFittedError(f"{self.name} is not fitted; call fit or load first")
        return self.scoring_

    @property
    def item_map(self) -> IdMap:
        """External item id -> index of the items the model scores."""
        if self.item_map_ is None:
            raise NotFittedError(f"{self.name} is not fitted; call fit or load first")
        return self.item_map_

    @property
    def popularity(self) -> np.ndarray:
        """Training steps per item (the answer to a session the model cannot read)."""
        if self.popularity_ is None:
            raise NotFittedError(f"{self.name} is not fitted; call fit or load first")
        return self.popularity_


def _neighbour_placeholder(state: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """Zero tensors shaped like a saved neighbour table (the weights then fill them)."""
    shape = state["prior.index"].shape
    return torch.zeros(shape, dtype=torch.long), torch.zeros(shape)


def _summary(history: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Epochs run, the best epoch, and seconds overall and per epoch (training steps only)."""
    best = [r["epoch"] for r in history if r.get("best")]
    per_epoch = [r["seconds"] for r in history]
    return {
        "epochs": len(history),
        "best_epoch": best[-1] if best else len(history),
        "train_seconds": round(seconds, 3),
        "seconds_per_epoch": round(float(np.mean(per_epoch)), 3) if per_epoch else 0.0,
    }
