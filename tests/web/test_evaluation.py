"""The dashboard's evaluation section, read from a bundle's report folder."""

from __future__ import annotations

import json
from pathlib import Path

from storex.evaluate.report import write_report
from storex.serve.web.evaluation import (
    cold_start_tables,
    comparison,
    is_report_image,
    load_evaluation,
)


def result(model: str, protocol: str, scale: float) -> dict:
    metrics = {
        f"{name}@{k}": scale * k / 100
        for name in ("precision", "recall", "ndcg", "hit_rate")
        for k in (5, 10, 20)
    }
    return {"model": model, "split": "test", "protocol": protocol, "users": 50, "metrics": metrics}


RESULTS = [
    result(model, protocol, scale)
    for protocol in ("reference", "strict")
    for model, scale in (("random", 0.1), ("lightgcn", 1.0), ("most_popular", 0.5))
]


def test_report_tables_show_the_headline_columns_model_first(tmp_path: Path) -> None:
    write_report(tmp_path / "report", RESULTS, history=[{"epoch": 1, "loss": 0.5}])
    evaluation = load_evaluation(tmp_path, {})
    assert [t.caption for t in evaluation.tables] == [
        "test split, reference protocol",
        "test split, strict protocol",
    ]
    table = evaluation.tables[0]
    assert table.columns == ("precision@5", "precision@10", "recall@5", "recall@10", "ndcg@10")
    assert [row.label for row in table.rows] == ["lightgcn", "Random", "MostPopular"]
    assert [row.baseline for row in table.rows] == [False, True, True]
    assert table.rows[0].values == (0.05, 0.1, 0.05, 0.1, 0.1)
    assert table.rows[0].best == (True,) * 5 and not any(table.rows[1].best)
    assert [image.name for image in evaluation.images] == [
        "training.png",
        "metrics-test-reference.png",
        "metrics-test-strict.png",
    ]
    assert evaluation.images[1].alt == "Metrics by model, test split, reference protocol"
    assert evaluation.problems == [] and evaluation.cold_start == []


def test_missing_baselines_are_said() -> None:
    table = comparison(
        {
            "split": "test",
            "protocol": "reference",
            "columns": ["recall@10", "ndcg@10"],
            "best": {},
            "missing_baselines": ["most_popular"],
            "rows": [{"model": "ease", "metrics": {"recall@10": 0.3, "ndcg@10": 0.2}}],
        }
    )
    assert table.columns == ("recall@10", "ndcg@10")
    assert table.notes == ("No row for MostPopular: these numbers lack their reference.",)


def test_without_a_report_the_bundle_metrics_are_shown(tmp_path: Path) -> None:
    info = {"metrics": {"test": [result("lightgcn", "reference", 1.0)]}}
    evaluation = load_evaluation(tmp_path, info)
    assert [row.label for row in evaluation.tables[0].rows] == ["lightgcn"]
    assert evaluation.problems == [
        "this bundle has no report: Random and MostPopular are not shown"
    ]


def test_a_damaged_report_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "report.json").write_text("{not json")
    evaluation = load_evaluation(tmp_path, {"metrics": {"test": [result("x", "strict", 1.0)]}})
    assert "cannot be read" in evaluation.problems[0]
    assert [t.caption for t in evaluation.tables] == ["test split, strict protocol"]


def test_cold_start_rows_become_one_table_per_scenario(tmp_path: Path) -> None:
    def row(scenario: str, model: str, reference: bool, recall: float | None) -> dict:
        metrics = None if recall is None else {"recall@10": recall, "ndcg@10": recall / 2}
        return {"scenario": scenario, "users": 12, "model": model, "reference": reference,
                "metrics": metrics, "best": []}  # fmt: skip

    section = {
        "rows": [
            row("users, 0 revealed", "graphsage", False, 0.30),
            row("users, 0 revealed", "random", True, 0.05),
            row("users, 0 revealed", "most_popular", True, 0.25),
            row("items", "lightgcn", False, None),
            row("items", "random", True, 0.04),
        ],
        "notes": ["Cold users: 12 of 80 eligible users held out."],
    }
    tables, notes = cold_start_tables(section)
    assert [t.caption for t in tables] == [
        "New users, 0 interactions revealed (12 users)",
        "New items (12 users)",
    ]
    users = tables[0]
    assert users.columns == ("recall@10", "ndcg@10")
    assert [r.label for r in users.rows] == ["graphsage", "Random", "MostPopular"]
    assert users.rows[0].best == (True, True) and users.rows[2].best == (False, False)
    unsupported = tables[1].rows[0]
    assert unsupported.note == "unsupported" and unsupported.values == (None, None)
    assert tables[1].rows[1].best == (False, False)  # alone among scored rows: nothing to beat
    assert notes == section["notes"]
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "report.json").write_text(
        json.dumps({"tables": [], "cold_start": section})
    )
    assert len(load_evaluation(tmp_path, {}).cold_start) == 2


def test_cold_start_absent_or_malformed_is_not_evaluated() -> None:
    assert cold_start_tables(None) == ([], [])
    assert cold_start_tables({"rows": "nonsense"}) == ([], [])


def test_only_plain_png_names_are_served() -> None:
    assert is_report_image("training.png") and is_report_image("metrics-test-strict.png")
    for name in ("../bundle.png", ".hidden.png", "report.json", "a/b.png", "x.PNG", ""):
        assert not is_report_image(name), name
