"""Session models: forward shapes of each encoder, fitting the planted rule, save and load."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from storex.errors import ConfigError, ModelError, NotFittedError
from storex.sessions import SessionModelConfig, SessionRecommender, evaluate_next_item
from storex.sessions.encoders import ENCODER_KINDS, make_item_encoder
from storex.sessions.model import SessionGraphModule
from storex.sessions.positional import laplacian_encodings
from tests.sessions.conftest import small_config

VARIANTS = [
    {"encoder": "graphsage"},
    {"encoder": "gat"},
    {"encoder": "graph_transformer"},
    {"encoder": "graph_transformer", "feed_forward": True},
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
def test_forward_scores_every_item_for_every_prefix(planted, variant) -> None:
    config = small_config(**variant)
    pe = laplacian_encodings(planted.graph, config.pe_dim)
    module = SessionGraphModule(config, planted.num_items, planted.samples["train"].max_length, pe)
    batch = planted.samples["train"].batch(slice(0, 7))
    scores = module(batch.items, batch.events, planted.graph)
    assert scores.shape == (7, planted.num_items)
    assert torch.isfinite(scores).all()
    assert scores.abs().max() <= config.scale + 1e-4  # scaled cosines
    scores.sum().backward()
    assert module.embedding.weight.grad is not None
    assert all(p.grad is not None for p in module.readout.parameters())


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
def test_each_model_learns_the_planted_next_item(planted, tmp_path, variant) -> None:
    model = SessionRecommender(small_config(**variant)).fit(planted, cache_dir=tmp_path)
    metrics = evaluate_next_item(model, planted.samples["test"], ks=(1, 10))
    assert metrics["recall@1"] >= 0.9, metrics  # random is 1 in 40
    assert 1 <= model.training_["best_epoch"] <= model.training_["epochs"] <= 12


def test_padding_does_not_change_a_session_score(trained) -> None:
    items = torch.tensor([[-1, -1, -1, -1, 3, 4]])
    events = torch.zeros_like(items)
    noisy = events.clone()
    noisy[0, :4] = 2  # event codes under padding are ignored
    assert torch.allclose(trained.scores(items, events), trained.scores(items, noisy))


def test_fits_are_reproducible(planted, tmp_path) -> None:
    config = small_config(epochs=2, patience=0)
    first = SessionRecommender(config).fit(planted, cache_dir=tmp_path)
    second = SessionRecommender(config).fit(planted, cache_dir=tmp_path)
    batch = planted.samples["valid"].batch(slice(0, 20))
    assert torch.allclose(
        first.scores(batch.items, batch.events), second.scores(batch.items, batch.events)
    )


def test_sampled_softmax_also_learns(planted, tmp_path) -> None:
    model = SessionRecommender(small_config(loss="sampled", negatives=16)).fit(
        planted, cache_dir=tmp_path
    )
    assert evaluate_next_item(model, planted.samples["test"], ks=(1,))["recall@1"] >= 0.8


def test_saved_model_scores_like_the_trained_one(trained, saved: Path) -> None:
    loaded = SessionRecommender.load(saved)
    assert loaded.item_map == trained.item_map
    items = torch.tensor([[-1, -1, -1, 0, 1, 2], [-1, -1, -1, -1, -1, 7]])
    events = torch.zeros_like(items)
    assert torch.equal(loaded.scores(items, events), trained.scores(items, events))
    assert loaded.version_ == trained.version_ and loaded.training_ == trained.training_
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["config"]["encoder"] == "graph_transformer" and manifest["max_length"] == 6


def test_damaged_or_unfitted_models_fail_clearly(saved: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        SessionRecommender().scores(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3))
    with pytest.raises(ModelError, match="missing"):
        SessionRecommender.load(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("manifest.json", "items.json", "popularity.npy"):
        (broken / name).write_bytes((saved / name).read_bytes())
    (broken / "weights.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot load the session model"):
        SessionRecommender.load(broken)


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="encoder must be one of"):
        SessionModelConfig(encoder="lstm")
    with pytest.raises(ConfigError, match="unknown session model setting"):
        SessionModelConfig.from_dict({"encoder": "gat", "hidden": 3})
    with pytest.raises(ConfigError, match="metric"):
        SessionModelConfig(metric="auc")
    with pytest.raises(ConfigError, match="multiple of heads"):
        make_item_encoder("graph_transformer", 10, heads=3)
    assert set(ENCODER_KINDS) == {"graphsage", "gat", "graph_transformer"}


def test_repeat_bonus_goes_to_session_items_by_recency(planted) -> None:
    config = small_config()
    module = SessionGraphModule(config, planted.num_items, 4, torch.zeros(planted.num_items, 4))
    with torch.no_grad():
        module.repeat.copy_(torch.tensor([1.0, 2.0, 3.0, -5.0]))  # oldest .. latest column
    items = torch.tensor([[-1, 7, 3, 7], [-1, -1, -1, 2]])
    bonus = module.repeat_bonus(items, planted.num_items)
    assert bonus[0, 7] == 2.0 - 5.0 and bonus[0, 3] == 3.0  # twice: both columns add up
    assert bonus[1, 2] == -5.0 and bonus[1].abs().sum() == 5.0  # padding adds nothing
    assert bonus[0].abs().sum() == 6.0
    off = SessionGraphModule(small_config(repeat_bonus=False, pe_dim=0), planted.num_items, 4)
    assert off.repeat is None and off.repeat_bonus(items, planted.num_items).abs().sum() == 0


def test_epochs_are_logged_and_any_cutoff_can_stop_early(planted, tmp_path) -> None:
    log = tmp_path / "log" / "epochs.jsonl"
    config = small_config(epochs=3, patience=0, metric="mrr@5")
    model = SessionRecommender(config).fit(planted, cache_dir=tmp_path, log_path=log)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3] == [r["epoch"] for r in model.history_]
    assert {"loss", "seconds", "valid_mrr@5", "valid_recall@10", "valid_ndcg@20"} <= set(records[0])


def test_label_smoothing_is_checked_and_still_learns(planted, tmp_path) -> None:
    with pytest.raises(ConfigError, match="label_smoothing"):
        SessionModelConfig(label_smoothing=1.0)
    plain = SessionRecommender(small_config(epochs=1, patience=0)).fit(planted, cache_dir=tmp_path)
    config = small_config(label_smoothing=0.2)
    smoothed = SessionRecommender(config).fit(planted, cache_dir=tmp_path)
    assert evaluate_next_item(smoothed, planted.samples["test"], ks=(1,))["recall@1"] >= 0.9
    first = SessionRecommender(replace(config, epochs=1, patience=0)).fit(
        planted, cache_dir=tmp_path
    )
    assert first.history_[0]["loss"] > plain.history_[0]["loss"]  # mass kept off the target
