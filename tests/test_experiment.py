"""The train -> evaluate -> bundle workflow: summaries, rating errors and cold start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from storex.config import load_settings
from storex.evaluate import rmse
from storex.experiment import (
    evaluate_cold_start,
    save_bundle,
    train_and_evaluate,
    unfitted_twin,
)
from storex.models.baselines import MostPopular, RandomRecommender
from storex.models.data import InteractionData
from storex.models.graphsage import GraphSAGEModel
from storex.models.lightgcn import LightGCN
from storex.models.ncf import NCFModel
from storex.pipeline import prepare
from tests.train.test_trainer import grouped_data

TINY = {"epochs": 6, "batch_size": 64, "lr": 0.05, "eval_every": 3, "extra": {"threads": 1}}


def tiny_lightgcn(**extra: Any) -> LightGCN:
    return LightGCN(
        embedding_dim=8, num_layers=2, train={**TINY, "extra": {**TINY["extra"], **extra}}
    )


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small prepared shop: 40 users, 14 items each out of 30, ratings 1-5."""
    root = tmp_path_factory.mktemp("shop")
    rows = ["user_id,item_id,rating,timestamp"]
    for user in range(40):
        for item in range(user % 9, user % 9 + 14):
            rows.append(f"u{user},i{item},{1 + (user + item) % 5},{1_600_000_000 + user * item}")
    (root / "interactions.csv").write_text("\n".join(rows) + "\n")
    prepare(root, root / "graph", load_settings(data_dir=root / "no-data"))
    return root / "graph"


def test_summary_reports_the_rating_head_once() -> None:
    data = grouped_data(ratings=True)
    train = {**TINY, "rating_weight": 1.0, "rating_batch_size": 128}
    model = GraphSAGEModel(embedding_dim=8, rating_head=True, train=train)
    line = train_and_evaluate(model, data).summary("grouped")
    expected = rmse(model.predict_ratings(data.test[0], data.test[1]), data.test_rating)
    assert line["rmse"] == round(expected, 4) and line["mae"] > 0
    assert not {"strict_rmse", "strict_mae"} & set(line)
    assert "strict_ndcg@20" in line
    assert all("rmse" in record for record in model.history_ if "ndcg@20" in record)

    plain = train_and_evaluate(tiny_lightgcn(), data).summary("grouped")
    assert "rmse" not in plain and "ndcg@20" in plain


def test_cold_start_keys_join_the_summary() -> None:
    data = grouped_data()
    result = train_and_evaluate(tiny_lightgcn(), data, cold_start=True)
    line = result.summary("grouped")
    assert line["cold_users_status"] == "ok" and line["cold_items_status"] == "unsupported"
    for n in (0, 1, 3, 5):
        assert 0.0 <= line[f"cold_users_{n}_recall@10"] <= 1.0
    assert line["cold_items_recall@10"] is None
    users = result.cold_start["users"]
    assert users["held_out_users"] == 2  # 10% of the 24 users, rounded
    # a user's group shows after a few revealed items: folding them in beats chance
    revealed = users["by_reveal"]["5"]
    assert revealed["model"]["recall@10"] > revealed["random"]["recall@10"]
    assert result.cold_start["seconds"] > 0


def test_models_without_a_cold_start_path_are_not_refitted() -> None:
    data = grouped_data()
    model = NCFModel(factors=4, mlp_layers=(8, 4), train=TINY).fit(data)
    cold = evaluate_cold_start(model, data)
    assert cold["users"]["status"] == "unsupported" and cold["users"]["fit_seconds"] == 0.0
    assert cold["items"]["status"] == "unsupported"
    baseline = evaluate_cold_start(MostPopular().fit(data), data)["users"]
    for entry in baseline["by_reveal"].values():  # MostPopular's own path is the reference
        assert entry["model"] == entry["most_popular"]


def test_impossible_scenarios_are_skipped_with_the_reason() -> None:
    data = grouped_data()
    cold = evaluate_cold_start(RandomRecommender(seed=1).fit(data), data, reveal=(0, 10))
    assert cold["users"]["status"] == "skipped"
    assert "more than 10 interactions" in cold["users"]["reason"]
    assert cold["items"]["status"] == "unsupported"


def test_twin_has_the_settings_but_not_the_run_files(tmp_path: Path) -> None:
    model = tiny_lightgcn(log_path=str(tmp_path / "log.jsonl"), checkpoint_dir=str(tmp_path))
    twin = unfitted_twin(model)
    assert type(twin) is LightGCN and not twin.is_fitted
    assert twin.train.extra == {"threads": 1}
    params, twin_params = model.get_params(), twin.get_params()
    params["train"].pop("extra"), twin_params["train"].pop("extra")
    assert params == twin_params


def test_bundle_report_holds_the_cold_start_table(artifacts: Path, tmp_path: Path) -> None:
    data = InteractionData.from_artifacts(artifacts)
    result = train_and_evaluate(tiny_lightgcn(), data)
    baselines = [train_and_evaluate(m, data) for m in (RandomRecommender(), MostPopular())]
    assert result.cold_start is None
    bundle = save_bundle(result, data, artifacts, tmp_path, dataset="shop", baselines=baselines)
    report = json.loads((bundle.path / "report" / "report.json").read_text())
    rows = report["cold_start"]["rows"]
    assert {(row["scenario"], row["model"]) for row in rows} >= {
        ("users, 0 revealed", "lightgcn"),
        ("users, 5 revealed", "random"),
        ("users, 5 revealed", "most_popular"),
        ("items", "random"),
    }
    markdown = (bundle.path / "report" / "report.md").read_text()
    assert "## Cold start" in markdown and "| users, 3 revealed |" in markdown
    assert result.cold_start is not None  # filled in, so the run's summary carries it too
    assert "cold_users_3_ndcg@10" in result.summary("shop")

    again = train_and_evaluate(tiny_lightgcn(), data)
    plain = save_bundle(
        again, data, artifacts, tmp_path / "plain", dataset="shop", cold_start=False
    )
    assert "cold_start" not in json.loads((plain.path / "report" / "report.json").read_text())
    assert again.cold_start is None


def test_scores_of_a_twin_fit_match_the_original(artifacts: Path) -> None:
    data = InteractionData.from_artifacts(artifacts)
    model = tiny_lightgcn().fit(data)
    twin = unfitted_twin(model).fit(data)
    users = torch.arange(data.num_users)
    torch.testing.assert_close(twin.score(users), model.score(users))


def test_cold_start_refits_follow_the_choice_then_the_size() -> None:
    from storex.experiment import cold_start_skip_reason
    from tests.models.contract_models import checkerboard

    data = checkerboard()
    edges = data.train.shape[1]
    assert cold_start_skip_reason(data, None, max_edges=edges) is None
    assert "pass --cold-start" in cold_start_skip_reason(data, None, max_edges=edges - 1)
    assert cold_start_skip_reason(data, True, max_edges=0) is None
    assert "--no-cold-start" in cold_start_skip_reason(data, False, max_edges=edges)
