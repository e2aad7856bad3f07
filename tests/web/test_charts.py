"""Training curves as SVG geometry: every point inside the plot, one line per series."""

from __future__ import annotations

import math

import pytest

from storex.serve.web.charts import line_chart, training_charts

HISTORY = [
    {"epoch": 1, "loss": 0.69, "seconds": 0.1},
    {"epoch": 2, "loss": 0.55, "recall@10": 0.20, "ndcg@10": 0.11},
    {"epoch": 3, "loss": 0.47},
    {"epoch": 4, "loss": 0.41, "recall@10": 0.31, "ndcg@10": 0.16},
    {"epoch": 5, "loss": float("nan")},
]


def points(text: str) -> list[tuple[float, float]]:
    return [tuple(map(float, pair.split(","))) for pair in text.split()]  # type: ignore[misc]


def test_loss_and_validation_charts() -> None:
    loss, validation = training_charts(HISTORY)
    assert loss.title == "Training loss" and [line.name for line in loss.lines] == ["loss"]
    assert len(points(loss.lines[0].points)) == 4  # the NaN epoch is left out
    assert [line.name for line in validation.lines] == ["ndcg@10", "recall@10"]
    assert (validation.lines[1].first, validation.lines[1].last) == (0.20, 0.31)
    assert "recall@10 from 0.2 to 0.31" in validation.summary
    assert "epochs 2 to 4" in validation.summary


@pytest.mark.parametrize("chart", training_charts(HISTORY), ids=lambda c: c.title)
def test_every_point_lies_in_the_plot_box(chart) -> None:
    for line in chart.lines:
        for x, y in points(line.points):
            assert chart.left - 1e-6 <= x <= chart.right + 1e-6
            assert chart.top - 1e-6 <= y <= chart.bottom + 1e-6
    for tick in chart.y_ticks:
        assert chart.top - 1e-6 <= tick.at <= chart.bottom + 1e-6


def test_lower_values_are_drawn_lower() -> None:
    (loss,) = training_charts([{"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.5}])
    (x1, y1), (x2, y2) = points(loss.lines[0].points)
    assert x1 < x2 and y1 < y2  # SVG y grows downwards: the smaller loss sits lower


def test_a_flat_series_is_drawn_mid_height() -> None:
    chart = line_chart("flat", "value", {"v": [(1, 0.3), (2, 0.3), (3, 0.3)]})
    ys = {y for _, y in points(chart.lines[0].points)}
    assert len(ys) == 1 and math.isclose(ys.pop(), (chart.top + chart.bottom) / 2)


def test_no_history_no_chart() -> None:
    assert training_charts([]) == []
    assert training_charts([{"epoch": 1, "seconds": 0.2}]) == []
