"""The cold-start table of a report and its flat benchmark keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from storex.errors import DataError
from storex.evaluate import write_report
from storex.evaluate.coldstart import evaluate_cold_items, evaluate_cold_users
from storex.evaluate.coldstart_table import COLUMNS, cold_start_summary, cold_start_table
from tests.evaluate.test_coldstart import (
    ItemOracle,
    NoColdStart,
    Oracle,
    WarmOnly,
    item_data,
    items_of,
    user_data,
)
from tests.evaluate.test_report import RESULTS

KS = (10, 20)


def oracle_results() -> dict[str, Any]:
    users = evaluate_cold_users(
        lambda: Oracle(items_of(user_data())), user_data(), fraction=0.99, reveal=(0, 2), ks=KS
    )
    items = evaluate_cold_items(
        lambda: ItemOracle(items_of(item_data())), item_data(), fraction=0.34, seed=3, ks=KS
    )
    return {"users": users, "items": items, "seconds": 1.25}


def test_rows_put_the_model_beside_its_references() -> None:
    payload, markdown = cold_start_table(oracle_results())
    rows = [(r["scenario"], r["model"], r["reference"]) for r in payload["rows"]]
    assert rows == [
        ("users, 0 revealed", "oracle", False),
        ("users, 0 revealed", "random", True),
        ("users, 0 revealed", "most_popular", True),
        ("users, 2 revealed", "oracle", False),
        ("users, 2 revealed", "random", True),
        ("users, 2 revealed", "most_popular", True),
        ("items", "item_oracle", False),
        ("items", "random", True),
    ]
    first = payload["rows"][0]
    assert first["users"] == 4 and first["revealed"] == 0 and first["kind"] == "cold_users"
    # the oracle ranks every remaining item first: the best NDCG of each scenario, alone
    for row in payload["rows"]:
        assert ("ndcg@10" in row["best"]) == (not row["reference"])
    assert "| users, 0 revealed | 4 | oracle | **1.0000** | **1.0000** |" in markdown
    assert "## Cold start" in markdown and "took 1.2 s" in markdown
    assert "first n interactions" in markdown and "lowest item indices" in markdown
    json.dumps(payload)


def test_unsupported_models_show_the_reason_not_a_number() -> None:
    users = evaluate_cold_users(
        lambda: NoColdStart(items_of(user_data())), user_data(), fraction=0.5, reveal=(0,), ks=KS
    )
    items = evaluate_cold_items(lambda: WarmOnly(items_of(item_data())), item_data(), ks=KS)
    payload, markdown = cold_start_table({"users": users, "items": items})
    model_rows = [row for row in payload["rows"] if not row["reference"]]
    assert [row["metrics"] for row in model_rows] == [None, None]
    assert "| users, 0 revealed | 4 | oracle | unsupported | — | — | — |" in markdown
    assert "has no score_new_users" in markdown and "has no embed_new_items" in markdown
    references = [row for row in payload["rows"] if row["reference"]]
    assert all(set(COLUMNS) <= set(row["metrics"]) for row in references)


def test_skipped_scenarios_are_explained() -> None:
    skipped = {"status": "skipped", "reason": "no user has more than 5 interactions to hold out"}
    payload, markdown = cold_start_table({"users": skipped, "items": oracle_results()["items"]})
    assert {row["kind"] for row in payload["rows"]} == {"cold_items"}
    assert "Cold users skipped: no user has more than 5 interactions" in markdown
    assert cold_start_summary({"users": skipped})["cold_users_status"] == "skipped"
    with pytest.raises(DataError):
        cold_start_table({})


def test_flat_summary_names_scenario_and_metric() -> None:
    results = oracle_results()
    flat = cold_start_summary(results)
    assert flat["cold_users_status"] == "ok" and flat["cold_items_status"] == "ok"
    assert flat["cold_users_0_recall@20"] == 1.0 and flat["cold_users_2_recall@20"] == 1.0
    expected = round(results["items"]["results"]["model"]["ndcg@10"], 4)
    assert flat["cold_items_ndcg@10"] == expected
    random = round(results["items"]["results"]["random"]["recall@10"], 4)
    assert flat["cold_items_random_recall@10"] == random
    assert flat["cold_start_seconds"] == 1.25
    metric_keys = {key for key in flat if "@" in key}
    assert metric_keys == {
        f"{prefix}_{column}"
        for prefix in ("cold_users_0", "cold_users_2", "cold_items", "cold_items_random")
        for column in COLUMNS
    }
    users = evaluate_cold_users(
        lambda: NoColdStart(items_of(user_data())), user_data(), fraction=0.5, reveal=(0,), ks=KS
    )
    assert cold_start_summary({"users": users})["cold_users_0_ndcg@10"] is None


def test_report_gets_the_cold_start_section(tmp_path: Path) -> None:
    write_report(tmp_path, RESULTS, cold_start=oracle_results())
    report = json.loads((tmp_path / "report.json").read_text())
    assert len(report["tables"]) == 2 and len(report["cold_start"]["rows"]) == 8
    markdown = (tmp_path / "report.md").read_text()
    assert markdown.index("### test split") < markdown.index("## Cold start")
    write_report(tmp_path / "plain", RESULTS)
    assert "cold_start" not in json.loads((tmp_path / "plain" / "report.json").read_text())
    assert "Cold start" not in (tmp_path / "plain" / "report.md").read_text()
