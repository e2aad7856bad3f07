"""Recommendation quality on a data set: every model beside the baselines, on test.

Trains each model with the tuned settings kept in ``configs/<dataset>.yaml`` (falling back to
``configs/default.yaml`` for a folder it has never seen), chooses epochs on valid only, and
prints one JSON line per model with the reference-protocol metrics (``recall@10``,
``ndcg@10``, ``recall@20``, ``ndcg@20``, ...; ``rmse`` and ``mae`` for a rating head), the
strict-protocol ones (``strict_*``), the epochs, training seconds, the torch threads and the
machine's load. ``--cold-start`` adds the cold-start figures (``cold_users_{n}_recall@10``
for 0, 1, 3 and 5 revealed interactions, ``cold_items_recall@10``, ...), which refit each
model on the data without the held-out users or items.

    python benchmarks/quality.py --dataset lightgcnpp-ml-1m
    python benchmarks/quality.py --dataset lightgcnpp-lastfm --model lightgcn --model ease
    python benchmarks/quality.py --dataset ml-100k --cold-start --threads 1
    python benchmarks/quality.py --dataset path/to/lightgcn-format-folder
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from storex.config import load_settings
from storex.errors import ConfigError
from storex.experiment import build_model, config_path, train_and_evaluate, tuned_settings
from storex.models.data import InteractionData
from storex.models.neural import EmbeddingRecommender
from storex.models.registry import model_class
from storex.pipeline import prepare
from storex.train.threads import AUTO, resolve_threads

DEFAULT_MODELS = (
    "random", "most_popular", "ease", "item_knn", "lightgcn", "graphsage", "ncf", "gat"
)  # fmt: skip
"""Every registered model; see :data:`SLOW_MODELS` for those left out on large data."""

SLOW_MODELS = ("ncf", "gat")
SLOW_MODELS_MAX_TRAIN = 300_000
"""The default list leaves :data:`SLOW_MODELS` out above this many training interactions
(ML-1M's 590K take them hours on two cores); ``--model`` runs them anyway."""


def default_models(data: InteractionData) -> list[str]:
    if data.train.shape[1] <= SLOW_MODELS_MAX_TRAIN:
        return list(DEFAULT_MODELS)
    return [name for name in DEFAULT_MODELS if name not in SLOW_MODELS]


def with_threads(name: str, settings: dict[str, Any], threads: str) -> dict[str, Any]:
    """The settings with ``train.extra.threads`` set, for models trained by the Trainer."""
    if threads == AUTO or not issubclass(model_class(name), EmbeddingRecommender):
        return settings
    train = dict(settings.get("train") or {})
    train["extra"] = {**(train.get("extra") or {}), "threads": int(threads)}
    return {**settings, "train": train}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="data set name or folder")
    parser.add_argument("--model", action="append", help="model name; repeat for several")
    parser.add_argument("--config", type=Path, help="YAML of tuned settings")
    parser.add_argument(
        "--cold-start", action="store_true", help="also evaluate held-out users and items"
    )
    parser.add_argument(
        "--threads",
        default=AUTO,
        help="torch CPU threads: a count, or 'auto' (cores the load average leaves free)",
    )
    args = parser.parse_args()

    torch.set_num_threads(resolve_threads(args.threads))
    dataset = Path(args.dataset).name if Path(args.dataset).exists() else args.dataset
    config = config_path(dataset, args.config)
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = Path(tmp) / "graph"
        prepare(args.dataset, artifacts, load_settings())
        data = InteractionData.from_artifacts(artifacts)
        refused = []
        for name in args.model or default_models(data):
            settings = with_threads(name, tuned_settings(dataset, name, config), args.threads)
            model = build_model(name, settings)
            try:
                result = train_and_evaluate(model, data, cold_start=args.cold_start)
            except ConfigError as exc:  # e.g. EASE on a catalogue too large for dense matrices
                refused.append(name)
                print(json.dumps({"dataset": dataset, "model": name, "skipped": str(exc)}))
                continue
            line = result.summary(dataset)
            line["config"] = config.name
            line["threads"] = torch.get_num_threads()
            line["load"] = [round(x, 2) for x in os.getloadavg()]
            print(json.dumps(line), flush=True)
    if refused and args.model:
        raise SystemExit(f"models asked for but refused by their settings: {refused}")


if __name__ == "__main__":
    main()
