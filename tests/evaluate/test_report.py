"""Comparison tables, report folders and charts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storex.errors import DataError
from storex.evaluate import EvaluationResult, comparison_table, write_report
from storex.evaluate.plots import plot_metrics, plot_training

PNG = b"\x89PNG\r\n\x1a\n"


def row(model: str, recall: float, ndcg: float, split: str = "test", **more: float) -> dict:
    return {
        "model": model,
        "split": split,
        "protocol": "reference",
        "users": 100,
        "seconds": 0.5,
        "metrics": {"recall@10": recall, "ndcg@10": ndcg, **more},
    }


RESULTS = [
    row("graphsage", 0.1667, 0.3243, rmse=0.91),
    row("random", 0.0031, 0.0102, rmse=1.70),
    row("most_popular", 0.0688, 0.1633),
    row("graphsage", 0.2001, 0.2500, split="valid"),
]
HISTORY = [
    {"epoch": 1, "loss": 0.69, "seconds": 1.0},
    {"epoch": 2, "loss": 0.51, "ndcg@20": 0.18, "recall@20": 0.2, "seconds": 1.1},
    {"epoch": 3, "loss": 0.44, "seconds": 1.0},
    {"epoch": 4, "loss": 0.41, "ndcg@20": 0.21, "recall@20": 0.24, "seconds": 1.2},
]


def test_table_groups_by_split_and_marks_the_best() -> None:
    payload, markdown = comparison_table(RESULTS)
    test, valid = payload["tables"]
    assert (test["split"], valid["split"]) == ("test", "valid")
    assert test["columns"] == ["recall@10", "ndcg@10", "rmse"]
    assert test["best"] == {key: ["graphsage"] for key in ("recall@10", "ndcg@10", "rmse")}
    assert test["missing_baselines"] == [] and valid["missing_baselines"] == [
        "random",
        "most_popular",
    ]
    assert "| graphsage | 100 | **0.1667** | **0.3243** | **0.9100** | 0.50 |" in markdown
    assert "| random | 100 | 0.0031 | 0.0102 | 1.7000 | 0.50 |" in markdown
    assert "| most_popular | 100 | 0.0688 | 0.1633 | — | 0.50 |" in markdown
    assert "### valid split, reference protocol" in markdown
    assert "lack their reference" in markdown
    json.dumps(payload)  # JSON-ready


def test_lower_is_better_for_rating_errors() -> None:
    payload, _ = comparison_table([row("a", 0.1, 0.1, rmse=0.8), row("b", 0.2, 0.1, rmse=0.9)])
    best = payload["tables"][0]["best"]
    assert best["rmse"] == ["a"] and best["recall@10"] == ["b"]
    assert best["ndcg@10"] == ["a", "b"]  # ties are all marked


def test_evaluation_results_are_accepted() -> None:
    result = EvaluationResult({"recall@10": 0.3}, users=5, seconds=0.1, protocol="strict",
                              split="test", model="lightgcn")  # fmt: skip
    payload, markdown = comparison_table([result])
    assert payload["tables"][0]["protocol"] == "strict"
    assert "| lightgcn | 5 | 0.3000 | 0.10 |" in markdown


@pytest.mark.parametrize(
    "bad", [[], [{"model": "x"}], [row("x", 0.1, 0.1) | {"metrics": {"recall@10": "high"}}]]
)
def test_bad_results_are_refused(bad: list) -> None:
    with pytest.raises(DataError):
        comparison_table(bad)


def test_write_report_writes_json_markdown_and_pngs(tmp_path: Path) -> None:
    written = write_report(tmp_path / "out", RESULTS, history=HISTORY)
    folder = tmp_path / "out"
    for name in ("metrics-test-reference.png", "metrics-valid-reference.png", "training.png"):
        assert (folder / name).read_bytes()[:8] == PNG
        assert written[name] == folder / name
    report = json.loads((folder / "report.json").read_text())
    assert report["history"] == HISTORY and len(report["tables"]) == 2
    markdown = (folder / "report.md").read_text()
    assert "graphsage" in markdown and "most_popular" in markdown and "0.1667" in markdown
    assert "![training curves](training.png)" in markdown


def test_report_without_history_has_no_training_chart(tmp_path: Path) -> None:
    write_report(tmp_path, RESULTS[:3])
    assert not (tmp_path / "training.png").exists()
    assert (tmp_path / "metrics-test-reference.png").read_bytes()[:8] == PNG


def test_plots_refuse_empty_or_malformed_input(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        plot_training([], tmp_path / "t.png")
    with pytest.raises(DataError, match="row 1"):
        plot_training([{"epoch": 1, "loss": 0.5}, {"loss": 0.4}], tmp_path / "t.png")
    with pytest.raises(DataError):
        plot_metrics([], tmp_path / "m.png")
    assert not list(tmp_path.iterdir())


def test_loss_only_history_still_plots(tmp_path: Path) -> None:
    path = plot_training([{"epoch": 1, "loss": 0.7}, {"epoch": 2, "loss": 0.6}], tmp_path / "l.png")
    assert path.read_bytes()[:8] == PNG
