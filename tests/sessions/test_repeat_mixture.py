"""RepeatNet's two modes: scores are log-probabilities that keep a share for session items."""

from __future__ import annotations

import pytest
import torch

from storex.errors import ConfigError
from storex.sessions import SessionRecommender, evaluate_next_item
from storex.sessions.model import SessionGraphModule
from tests.sessions.conftest import small_config

ITEMS = torch.tensor([[-1, 7, 3, 5], [-1, -1, -1, 2]])


def _module(planted, **changes: object) -> SessionGraphModule:
    config = small_config(repeat_mixture=True, pe_dim=0, **changes)
    return SessionGraphModule(config, planted.num_items, 4).eval()


def _scores(module: SessionGraphModule, items: torch.Tensor) -> torch.Tensor:
    sessions = torch.nn.functional.normalize(torch.randn(items.shape[0], module.config.dim), dim=-1)
    states = torch.nn.functional.normalize(torch.randn(module.num_items, module.config.dim), dim=-1)
    with torch.no_grad():
        return module.score(sessions, states, items)


def test_mixture_needs_the_recency_weights_and_the_full_loss() -> None:
    with pytest.raises(ConfigError, match="repeat_mixture"):
        small_config(repeat_mixture=True, repeat_bonus=False)
    with pytest.raises(ConfigError, match="repeat_mixture"):
        small_config(repeat_mixture=True, loss="sampled")


def test_scores_are_log_probabilities_and_the_gate_moves_mass_to_session_items(planted) -> None:
    module = _module(planted)
    scores = _scores(module, ITEMS)
    assert torch.allclose(scores.logsumexp(dim=1), torch.zeros(2), atol=1e-5)
    with torch.no_grad():
        module.repeat.copy_(torch.tensor([0.0, 1.0, 2.0, 3.0]))  # oldest .. latest column
        module.repeat_gate.weight.zero_()
        module.repeat_gate.bias.fill_(20.0)  # all but certain: the shopper goes back
    repeat = _scores(module, ITEMS).exp()
    assert torch.topk(repeat[0], 3).indices.tolist() == [5, 3, 7]  # by recency weight
    weights = torch.softmax(torch.tensor([1.0, 2.0, 3.0]), dim=0)
    assert repeat[0, [7, 3, 5]] == pytest.approx(weights.tolist(), abs=1e-5)
    assert repeat[1, 2] == pytest.approx(1.0, abs=1e-5)  # padding takes no share


def test_explore_mode_leaves_the_session_items_to_repeat_mode(planted) -> None:
    module = _module(planted)
    with torch.no_grad():
        module.repeat_gate.weight.zero_()
        module.repeat_gate.bias.fill_(-20.0)  # all but certain: the shopper explores
    explore = _scores(module, ITEMS).exp()
    assert explore[0, [7, 3, 5]].max() < 1e-6
    assert explore[1, 2] < 1e-6
    others = torch.ones(planted.num_items, dtype=torch.bool)
    others[[7, 3, 5]] = False
    assert explore[0, others].sum() == pytest.approx(1.0, abs=1e-5)


def test_a_mixture_model_learns_saves_and_exports(planted, tmp_path) -> None:
    model = SessionRecommender(small_config(repeat_mixture=True)).fit(planted, cache_dir=tmp_path)
    assert evaluate_next_item(model, planted.samples["test"], ks=(1,))["recall@1"] >= 0.9
    batch = planted.samples["test"]
    expected = model.scores(batch.items, batch.events)
    loaded = SessionRecommender.load(model.save(tmp_path / "model"))
    assert torch.equal(loaded.scores(batch.items, batch.events), expected)
    pytest.importorskip("onnxruntime", reason="the ONNX check needs the 'export' extra")
    from storex.sessions import OnnxSessionScorer, export_onnx

    onnx = OnnxSessionScorer(export_onnx(model, tmp_path / "model.onnx"))
    found = onnx.scores(batch.items, batch.events)
    assert torch.allclose(found, expected, atol=1e-3)
    assert torch.equal(torch.topk(found, 10).indices, torch.topk(expected, 10).indices)
