"""PNG charts for reports: training curves and metrics by model.

Figures are built with :class:`matplotlib.figure.Figure` directly, never through pyplot, so
nothing depends on a display or on a global backend setting (Agg renders the PNG).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from storex.errors import DataError
from storex.evaluate.metrics import metric_sort_key
from storex.io import save_with

_METRIC = re.compile(r"^[a-z_]+@\d+$|^(rmse|mae)$")
_HEADLINE = ("recall", "ndcg")


def plot_training(history: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Loss and validation metrics per epoch, as a PNG.

    Rows look like ``{"epoch": 3, "loss": 0.41, "ndcg@20": 0.21, "seconds": 1.2}``; metric
    keys are ``name@K``, ``rmse`` or ``mae``. An epoch without a metric (validation every few
    epochs) simply has no point on that curve.
    """
    if not history:
        raise DataError("training history is empty: nothing to plot")
    for number, row in enumerate(history):
        if "epoch" not in row:
            raise DataError(f"training history row {number}: no 'epoch' in {sorted(row)}")
    metrics = sorted({key for row in history for key in row if _METRIC.match(key)})
    panels = 1 + bool(metrics)
    figure = Figure(figsize=(5.5 * panels, 4), layout="constrained")
    axes = figure.subplots(1, panels, squeeze=False)[0]
    _curve(axes[0], history, "loss")
    axes[0].set_title("training loss")
    axes[0].set_ylabel("loss")
    if metrics:
        for name in metrics:
            _curve(axes[1], history, name)
        axes[1].set_title("validation")
        axes[1].legend()
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    return _save(figure, path)


def plot_metrics(
    rows: Sequence[Mapping[str, Any]], path: str | Path, metrics: Sequence[str] | None = None
) -> Path:
    """Grouped bars: one group per metric, one bar per model.

    ``rows`` are evaluation results as dicts (``{"model": ..., "metrics": {...}}``); by
    default the recall and NDCG cut-offs present are drawn.
    """
    if not rows:
        raise DataError("no results to plot")
    present = sorted({name for row in rows for name in row.get("metrics", {})}, key=metric_sort_key)
    chosen = list(metrics) if metrics else [m for m in present if m.split("@")[0] in _HEADLINE]
    if not chosen:
        chosen = present
    if not chosen:
        raise DataError("the results hold no metrics to plot")
    width = 0.8 / len(rows)
    positions = np.arange(len(chosen))
    figure = Figure(figsize=(max(6.0, 1.2 * len(chosen) + 2), 4), layout="constrained")
    ax = figure.subplots()
    for number, row in enumerate(rows):
        values = [row.get("metrics", {}).get(name, math.nan) for name in chosen]
        offset = positions - 0.4 + width * (number + 0.5)
        ax.bar(offset, values, width, label=str(row.get("model", f"model {number}")))
    ax.set_xticks(positions, chosen)
    ax.set_ylabel("value")
    ax.set_title(_title(rows))
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    return _save(figure, path)


def _curve(ax: Any, history: Sequence[Mapping[str, Any]], key: str) -> None:
    points = [(row["epoch"], row[key]) for row in history if row.get(key) is not None]
    if points:
        epochs, values = zip(*points, strict=True)
        ax.plot(epochs, values, marker="o", markersize=3, label=key)


def _title(rows: Sequence[Mapping[str, Any]]) -> str:
    splits = sorted({str(row.get("split", "?")) for row in rows})
    protocols = sorted({str(row.get("protocol", "?")) for row in rows})
    return f"{'/'.join(splits)} split, {'/'.join(protocols)} protocol"


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    save_with(path, lambda tmp: figure.savefig(tmp, format="png", dpi=110))
    return path
