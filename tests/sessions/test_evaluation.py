"""Next-item metrics on hand-made rankings, and the report files."""

from __future__ import annotations

import json
import math

import pytest
import torch

from storex.errors import EmptyDataError
from storex.sessions import NextItemSamples, evaluate_next_item, write_session_report
from storex.sessions.evaluation import result_row


class Fixed:
    """Scores items so that item ``i`` ranks ``order.index(i) + 1``."""

    name = "fixed"

    def __init__(self, order: list[int]) -> None:
        self.score = torch.zeros(len(order))
        for rank, item in enumerate(order):
            self.score[item] = float(len(order) - rank)

    def scores(self, items, events):
        return self.score.expand(items.shape[0], -1)


def samples(targets: list[int]) -> NextItemSamples:
    n = len(targets)
    items = torch.zeros(n, 2, dtype=torch.long)
    return NextItemSamples(items, items.clone(), torch.tensor(targets), torch.arange(n))


def test_metrics_follow_the_rank_of_the_target() -> None:
    order = list(range(30))
    metrics = evaluate_next_item(Fixed(order), samples([0, 2, 14, 25]), ks=(10, 20))
    assert metrics["recall@10"] == pytest.approx(2 / 4)
    assert metrics["recall@20"] == pytest.approx(3 / 4)
    assert metrics["mrr@10"] == pytest.approx((1 + 1 / 3) / 4)
    assert metrics["mrr@20"] == pytest.approx((1 + 1 / 3 + 1 / 15) / 4)
    assert metrics["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4)) / 4)
    assert metrics["ndcg@20"] == pytest.approx((1 + 1 / math.log2(4) + 1 / math.log2(16)) / 4)
    assert set(metrics) == {f"{m}@{k}" for m in ("recall", "ndcg", "mrr") for k in (10, 20)}


def test_batches_do_not_change_the_result() -> None:
    order = list(range(50))[::-1]
    data = samples([3, 7, 49, 48, 20, 0, 11])
    whole = evaluate_next_item(Fixed(order), data, batch_size=100)
    assert evaluate_next_item(Fixed(order), data, batch_size=2) == pytest.approx(whole)


def test_no_samples_is_an_error() -> None:
    with pytest.raises(EmptyDataError):
        evaluate_next_item(Fixed([0, 1]), samples([]))


def test_report_holds_tables_and_data_counts(tmp_path) -> None:
    rows = [
        result_row("random", "test", {"recall@10": 0.1, "ndcg@10": 0.05}, 40, 0.0),
        result_row("most_popular", "test", {"recall@10": 0.2, "ndcg@10": 0.08}, 40, 0.1),
        result_row("graph_transformer", "test", {"recall@10": 0.4, "ndcg@10": 0.2}, 40, 9.5),
    ]
    written = write_session_report(tmp_path, rows, {"test_samples": 40, "sessions": 12})
    payload = json.loads(written["report.json"].read_text())
    (table,) = payload["tables"]
    assert table["protocol"] == "next-item" and table["best"]["recall@10"] == ["graph_transformer"]
    assert table["missing_baselines"] == [] and payload["data"]["test_samples"] == 40
    markdown = written["report.md"].read_text()
    assert (
        "| graph_transformer | 40 | **0.4000**" in markdown and "| test_samples | 40 |" in markdown
    )
