"""Recommendation quality on a data set: every model beside the baselines, on test.

Trains each model with the tuned settings kept in ``configs/<dataset>.yaml`` (falling back to
``configs/default.yaml`` for a folder it has never seen), chooses epochs on valid only, and
prints one JSON line per model with the reference-protocol metrics (``recall@10``,
``ndcg@10``, ``recall@20``, ``ndcg@20``, ...), the strict-protocol ones (``strict_*``), the
epochs, training seconds and the machine's load.

    python benchmarks/quality.py --dataset lightgcnpp-ml-1m
    python benchmarks/quality.py --dataset lightgcnpp-lastfm --model lightgcn --model ease
    python benchmarks/quality.py --dataset path/to/lightgcn-format-folder
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import torch

from storex.config import load_settings
from storex.experiment import build_model, config_path, train_and_evaluate, tuned_settings
from storex.models.data import InteractionData
from storex.pipeline import prepare

DEFAULT_MODELS = ("random", "most_popular", "ease", "item_knn", "lightgcn", "graphsage")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="data set name or folder")
    parser.add_argument("--model", action="append", help="model name; repeat for several")
    parser.add_argument("--config", type=Path, help="YAML of tuned settings")
    args = parser.parse_args()

    torch.set_num_threads(os.cpu_count() or 1)
    dataset = Path(args.dataset).name if Path(args.dataset).exists() else args.dataset
    config = config_path(dataset, args.config)
    with tempfile.TemporaryDirectory() as tmp:
        artifacts = Path(tmp) / "graph"
        prepare(args.dataset, artifacts, load_settings())
        data = InteractionData.from_artifacts(artifacts)
        for name in args.model or DEFAULT_MODELS:
            model = build_model(name, tuned_settings(dataset, name, config))
            result = train_and_evaluate(model, data)
            line = result.summary(dataset)
            line["config"] = config.name
            line["load"] = [round(x, 2) for x in os.getloadavg()]
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
