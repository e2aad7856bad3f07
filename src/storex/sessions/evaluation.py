"""Next-item metrics of any session scorer, and the comparison report.

Every sample's target is one item, so Recall@K is the share of samples whose target is in
the top K (equal to the hit rate), NDCG@K is ``1 / log2(rank + 1)`` when it is, and MRR@K
is ``1 / rank``. Items already in the session are not masked: shoppers return to products
they viewed, and the SR-GNN protocol ranks every item. Per-sample values come from
:func:`storex.evaluate.metrics.ranking_metrics`, so they agree with the rest of StoreX.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from storex.errors import EmptyDataError
from storex.evaluate.metrics import check_ks, ranking_metrics
from storex.evaluate.report import comparison_table
from storex.io import atomic_path, write_json
from storex.sessions.samples import NextItemSamples

KS: tuple[int, ...] = (10, 20)
FAMILIES: tuple[str, ...] = ("recall", "ndcg", "mrr")
PROTOCOL = "next-item"


class SessionScorer(Protocol):
    """What evaluation and serving need of a model or baseline."""

    name: str

    def scores(self, items: Tensor, events: Tensor) -> Tensor:
        """``(B, N)`` score of every item for each padded prefix (higher is better)."""
        ...


def evaluate_next_item(
    scorer: SessionScorer,
    samples: NextItemSamples,
    ks: Sequence[int] = KS,
    batch_size: int = 512,
) -> dict[str, float]:
    """Mean Recall@K, NDCG@K and MRR@K of ``scorer`` over ``samples``."""
    per_sample = next_item_metrics(scorer, samples, ks, batch_size)
    return {name: float(values.mean()) for name, values in per_sample.items()}


def standard_errors(per_sample: Mapping[str, np.ndarray]) -> dict[str, float]:
    """``<metric>_se``: the standard error of each mean (small test sets are noisy)."""
    return {
        f"{name}_se": float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
        for name, values in per_sample.items()
    }


def next_item_metrics(
    scorer: SessionScorer,
    samples: NextItemSamples,
    ks: Sequence[int] = KS,
    batch_size: int = 512,
) -> dict[str, np.ndarray]:
    """Recall@K, NDCG@K and MRR@K of every sample, ``(N,)`` arrays by metric name."""
    ks = check_ks(ks)
    if not len(samples):
        raise EmptyDataError("no next-item samples to evaluate on")
    names = [f"{family}@{k}" for family in FAMILIES for k in ks]
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    with torch.no_grad():
        for batch in samples.batches(batch_size):
            scores = scorer.scores(batch.items, batch.events)
            top = torch.topk(scores, min(max(ks), scores.shape[1]), dim=1).indices
            hits = (top == batch.targets.unsqueeze(1)).numpy()
            found = ranking_metrics(hits, np.ones(len(batch), dtype=np.int64), ks)
            for name in names:
                parts[name].append(found[name])
    return {name: np.concatenate(values) for name, values in parts.items()}


def result_row(
    model: str, split: str, metrics: Mapping[str, float], samples: int, seconds: float
) -> dict[str, Any]:
    """One row of :func:`storex.evaluate.report.comparison_table` (``users`` = samples)."""
    return {
        "model": model,
        "split": split,
        "protocol": PROTOCOL,
        "users": samples,
        "seconds": seconds,
        "metrics": dict(metrics),
    }


def write_session_report(
    folder: str | Path, rows: Sequence[Mapping[str, Any]], data_report: Mapping[str, Any]
) -> dict[str, Path]:
    """``report.json`` (tables and the data counts) and ``report.md`` in ``folder``."""
    folder = Path(folder)
    payload, markdown = comparison_table(list(rows))
    write_json(folder / "report.json", {**payload, "data": dict(data_report)})
    counts = "\n".join(f"| {key} | {value} |" for key, value in data_report.items())
    text = (
        "# Session recommendation report\n\n"
        "Next-item prediction from every session prefix; `users` counts samples.\n\n"
        f"{markdown}\n## Data\n\n| count | value |\n|---|---:|\n{counts}\n"
    )
    with atomic_path(folder / "report.md") as tmp:
        tmp.write_text(text)
    return {"report.json": folder / "report.json", "report.md": folder / "report.md"}
