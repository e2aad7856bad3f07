"""Session recommendation quality: every session model beside the baselines, on test.

Reads the data set (a name, ``synthetic``, or a DIGINETICA / RetailRocket ``events.csv`` /
generic session CSV or TSV file), sessionizes and splits it in time with blackouts, trains
each model of ``configs/sessions.yaml`` (the data set's entry over ``default``; epochs chosen
on valid only) and prints one JSON line per model: test Recall/NDCG/MRR at 10 and 20 with
their standard errors (``*_se``; the DIGINETICA sample's test set is a few hundred samples),
the same on valid (``valid_*``), sample counts, training seconds (overall and per epoch), epochs
and the machine's load. The data counts (what was dropped and why) go to stderr as JSON.
With ``--reference NAME`` every later model's line gains its paired difference from NAME
on test recall@10 and ndcg@10 (``recall@10_minus_NAME`` and its ``_se``).
With ``--seeds N`` every session model is trained N times (seeds 0..N-1) and its line holds
the means over the seeds, each metric's per-seed values (``<metric>_per_seed``) and the
standard error of the mean across seeds (``<metric>_seed_se``); the small valid and test sets
of the DIGINETICA sample make one seed's figure a poor guide. Paired differences and the
per-sample standard errors are then of the sample's metrics averaged over the seeds.
With ``--latency`` each model is also exported to ONNX and the line gains the milliseconds
per scoring call of PyTorch and ONNX Runtime (one session; 64 sessions), the share of test
samples on which both rank the same top 10 and the largest score difference.

    python benchmarks/session_quality.py --dataset diginetica-sample --reference graphsage
    python benchmarks/session_quality.py --dataset synthetic --model graph_transformer
    python benchmarks/session_quality.py --dataset diginetica-sample --seeds 3
    python benchmarks/session_quality.py --dataset path/to/events.csv --report out/sessions
    python benchmarks/session_quality.py --dataset synthetic --model graph_transformer --latency
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from storex.sessions import (
    NextItemSamples,
    OnnxSessionScorer,
    SessionDataset,
    SessionDataSettings,
    SessionModelConfig,
    SessionRecommender,
    evaluate_next_item,
    export_onnx,
    make_baseline,
    next_item_metrics,
    prepare_sessions,
    session_settings,
    standard_errors,
    write_session_report,
)
from storex.sessions.evaluation import result_row
from storex.sessions.sources import dataset_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="data set name or session file")
    parser.add_argument("--model", action="append", help="model or baseline name; repeatable")
    parser.add_argument("--config", type=Path, help="YAML of tuned settings (sessions layout)")
    parser.add_argument("--report", type=Path, help="folder for report.json and report.md")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--reference",
        action="append",
        default=[],
        help="model or baseline to compare every later model with, sample by sample "
        "(paired difference and its standard error); repeatable",
    )
    parser.add_argument(
        "--seeds", type=int, default=1, help="fits per session model, seeds 0..N-1 (default 1)"
    )
    parser.add_argument(
        "--latency",
        action="store_true",
        help="also export each model to ONNX and time PyTorch and ONNX Runtime scoring",
    )
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")

    torch.set_num_threads(args.threads)
    name = dataset_name(args.dataset)
    settings = session_settings(name, args.config)
    data = prepare_sessions(args.dataset, SessionDataSettings.from_dict(settings["data"]))
    print(json.dumps({"dataset": name, "data": data.report}), file=sys.stderr, flush=True)
    wanted = set(args.model or [])
    paired = Paired(args.reference)
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for model_name, options in settings["baselines"].items():
            if not wanted or model_name in wanted:
                rows.append(run_baseline(name, data, model_name, options, paired))
        for model_name, options in settings["models"].items():
            if not wanted or model_name in wanted:
                config = SessionModelConfig.from_dict({**options, "threads": args.threads})
                model_args = (model_name, config, Path(cache), args.latency, paired, args.seeds)
                rows.append(run_model(name, data, *model_args))
    if args.report:
        results = [
            result_row(r["model"], "test", _test(r), r["test_samples"], r["train_seconds"])
            for r in rows
        ]
        write_session_report(args.report, results, data.report)


class Paired:
    """Per-sample test metrics of the reference models, for paired differences.

    Two models ranked on the same samples differ far less from sample to sample than each
    does from the mean, so the paired standard error tells whether a gap is noise.
    """

    metrics = ("recall@10", "ndcg@10")

    def __init__(self, references: list[str]) -> None:
        self.references = references
        self.seen: dict[str, dict[str, np.ndarray]] = {}

    def compare(self, name: str, per_sample: dict[str, np.ndarray]) -> dict[str, float]:
        out: dict[str, float] = {}
        for reference, theirs in self.seen.items():
            for metric in self.metrics:
                diff = per_sample[metric] - theirs[metric]
                out[f"{metric}_minus_{reference}"] = float(diff.mean())
                out[f"{metric}_minus_{reference}_se"] = float(diff.std(ddof=1) / np.sqrt(len(diff)))
        if name in self.references:
            self.seen[name] = per_sample
        return out


def run_baseline(
    dataset: str,
    data: SessionDataset,
    name: str,
    options: dict[str, Any],
    paired: Paired,
) -> dict[str, Any]:
    started = time.perf_counter()
    model = make_baseline(name, **options).fit(data.split.train, data.num_items)
    seconds = time.perf_counter() - started
    training = {"train_seconds": round(seconds, 3), "epochs": 0, "seconds_per_epoch": None}
    return emit(dataset, name, [Fit(model, data, training)], data, paired)


def run_model(
    dataset: str,
    data: SessionDataset,
    name: str,
    config: SessionModelConfig,
    cache: Path,
    latency: bool,
    paired: Paired,
    seeds: int = 1,
) -> dict[str, Any]:
    fits = []
    for seed in range(seeds):
        seeded = replace(config, seed=config.seed + seed)
        model = SessionRecommender(seeded, name).fit(data, cache_dir=cache)
        extra = dict(model.training_)
        if latency:
            extra.update(compare_runtimes(model, data, cache / f"{name}.onnx", config.threads))
        fits.append(Fit(model, data, extra))
    return emit(dataset, name, fits, data, paired)


class Fit:
    """One trained model's per-sample test metrics, valid means and training figures."""

    def __init__(self, model: Any, data: SessionDataset, training: dict[str, Any]) -> None:
        self.test = next_item_metrics(model, data.samples["test"])
        self.valid = evaluate_next_item(model, data.samples["valid"])
        self.training = training


def compare_runtimes(
    model: SessionRecommender, data: SessionDataset, path: Path, threads: int
) -> dict[str, Any]:
    """Milliseconds per call of PyTorch and ONNX Runtime (one session, and batches of 64),
    the share of test samples whose top 10 (in order) both agree on, and the largest score
    difference (order can only differ between items whose scores tie to float precision)."""
    onnx = OnnxSessionScorer(export_onnx(model, path), threads=threads)
    test = data.samples["test"]
    expected = model.scores(test.items, test.events)
    found = onnx.scores(test.items, test.events)
    same = (torch.topk(expected, 10).indices == torch.topk(found, 10).indices).all(dim=1)
    out: dict[str, Any] = {
        "onnx_same_top10": round(float(same.float().mean()), 4),
        "onnx_max_score_diff": float((expected - found).abs().max()),
    }
    for label, size in (("single", 1), ("batch64", 64)):
        batch = test.batch(torch.arange(size) % len(test))
        for runtime, scorer in (("torch", model), ("onnx", onnx)):
            out[f"{runtime}_ms_{label}"] = round(_milliseconds(scorer, batch), 3)
    return out


def _milliseconds(scorer: Any, batch: NextItemSamples, calls: int = 200) -> float:
    for _ in range(10):  # warm-up
        scorer.scores(batch.items, batch.events)
    started = time.perf_counter()
    for _ in range(calls):
        scorer.scores(batch.items, batch.events)
    return 1000.0 * (time.perf_counter() - started) / calls


def emit(
    dataset: str, name: str, fits: list[Fit], data: SessionDataset, paired: Paired
) -> dict[str, Any]:
    """Print and return the line of one model (means over ``fits``, one per seed)."""
    line: dict[str, Any] = {"dataset": dataset, "model": name}
    per_sample = {k: np.mean([f.test[k] for f in fits], axis=0) for k in fits[0].test}
    line.update({metric: float(values.mean()) for metric, values in per_sample.items()})
    line.update(standard_errors(per_sample))
    line.update(paired.compare(name, per_sample))
    line.update({f"valid_{k}": float(np.mean([f.valid[k] for f in fits])) for k in fits[0].valid})
    if len(fits) > 1:
        line.update(seed_spread({k: [float(f.test[k].mean()) for f in fits] for k in fits[0].test}))
        line.update(seed_spread({f"valid_{k}": [f.valid[k] for f in fits] for k in fits[0].valid}))
    line.update(_mean_training([f.training for f in fits]))
    line["test_samples"] = len(data.samples["test"])
    line["valid_samples"] = len(data.samples["valid"])
    line["items"] = data.num_items
    line["threads"] = torch.get_num_threads()
    line["load"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(line), flush=True)
    return line


def seed_spread(values: dict[str, list[float]]) -> dict[str, Any]:
    """``<metric>_per_seed`` and ``<metric>_seed_se`` (standard error of the seed mean)."""
    out: dict[str, Any] = {}
    for metric, found in values.items():
        out[f"{metric}_per_seed"] = [round(v, 4) for v in found]
        out[f"{metric}_seed_se"] = float(np.std(found, ddof=1) / np.sqrt(len(found)))
    return out


def _mean_training(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Training figures of one fit, or their means over several (numbers only)."""
    if len(records) == 1:
        return records[0]
    out: dict[str, Any] = {}
    for key, value in records[0].items():
        numbers = [r[key] for r in records]
        is_number = all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers)
        out[key] = round(float(np.mean(numbers)), 4) if is_number else value
    out["seeds"] = len(records)
    return out


def _test(line: dict[str, Any]) -> dict[str, float]:
    """The test metrics of a line (not their errors, valid figures or paired differences)."""
    return {
        k: v
        for k, v in line.items()
        if "@" in k
        and not k.startswith("valid_")
        and not k.endswith(("_se", "_per_seed"))
        and "_minus_" not in k
    }


if __name__ == "__main__":
    main()
