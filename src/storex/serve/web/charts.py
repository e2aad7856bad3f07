"""Line charts of a training history (loss, validation metrics) as SVG geometry.

The dashboard draws them inline, so they need no image library and no script; each chart
carries a one-sentence summary for screen readers. History rows are the trainer's: ``epoch``
and ``loss`` every epoch, validation metrics (``recall@10``, ``ndcg@20``, ...) on the epochs
that were evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 14, 44
MAX_SERIES = 6


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Line:
    name: str
    points: str
    first: float
    last: float


@dataclass(frozen=True)
class Chart:
    title: str
    summary: str
    y_label: str
    lines: tuple[Line, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def training_charts(history: Sequence[Mapping[str, Any]]) -> list[Chart]:
    """A loss chart and a validation chart (each only when the history has its values)."""
    charts = []
    loss = _series(history, "loss")
    if loss:
        charts.append(line_chart("Training loss", "loss", {"loss": loss}))
    names = sorted({k for row in history for k in row if "@" in k and _finite(row.get(k))})
    validation = {name: _series(history, name) for name in names[:MAX_SERIES]}
    if validation:
        charts.append(line_chart("Validation metrics", "value", validation))
    return charts


def line_chart(title: str, y_label: str, series: Mapping[str, list[tuple[float, float]]]) -> Chart:
    """One chart of ``series`` (name -> (x, y) points), x and y scaled to the plot box."""
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points]
    x_min, x_max = _span(min(xs), max(xs))
    y_min, y_max = _span(min(ys), max(ys))

    def sx(x: float) -> float:
        return LEFT + (x - x_min) / (x_max - x_min) * (WIDTH - RIGHT - LEFT)

    def sy(y: float) -> float:
        return HEIGHT - BOTTOM - (y - y_min) / (y_max - y_min) * (HEIGHT - BOTTOM - TOP)

    lines = tuple(
        Line(
            name=name,
            points=" ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points),
            first=points[0][1],
            last=points[-1][1],
        )
        for name, points in series.items()
    )
    x_ticks = tuple(Tick(sx(x), f"{x:g}") for x in _ticks(x_min, x_max, integer=True))
    y_ticks = tuple(Tick(sy(y), f"{y:.3g}") for y in _ticks(y_min, y_max, integer=False))
    epochs = f"epochs {min(xs):g} to {max(xs):g}"
    changes = "; ".join(f"{line.name} from {line.first:.4g} to {line.last:.4g}" for line in lines)
    return Chart(title, f"{title} over {epochs}: {changes}.", y_label, lines, x_ticks, y_ticks)


def _series(history: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float, float]]:
    return [
        (float(row["epoch"]), float(row[key]))
        for row in history
        if _finite(row.get("epoch")) and _finite(row.get(key))
    ]


def _span(low: float, high: float) -> tuple[float, float]:
    """A non-empty range around ``low..high`` (a flat series gets a band around it)."""
    if high > low:
        return low, high
    pad = abs(low) * 0.05 or 1.0
    return low - pad, high + pad


def _ticks(low: float, high: float, *, integer: bool, count: int = 5) -> list[float]:
    if integer:
        step = max(1, math.ceil((high - low) / (count - 1)))
        first = math.ceil(low)
        return [float(v) for v in range(first, math.floor(high) + 1, step)]
    return [low + (high - low) * i / (count - 1) for i in range(count)]


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
