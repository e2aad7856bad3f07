"""ONNX export: the runtime ranks like PyTorch, and serves through the same engine."""

from __future__ import annotations

import shutil

import pytest
import torch

pytest.importorskip("onnxruntime", reason="the ONNX tests need the 'export' extra")

from storex.errors import ModelError
from storex.sessions import OnnxSessionScorer, SessionEngine, export_onnx
from storex.sessions.export import ONNX_FILE


def test_onnx_scores_and_top_k_match_pytorch(trained, planted, tmp_path) -> None:
    path = export_onnx(trained, tmp_path / "model.onnx")
    onnx = OnnxSessionScorer(path)
    assert onnx.max_length == trained.max_length
    for part in ("valid", "test"):
        batch = planted.samples[part]
        expected = trained.scores(batch.items, batch.events)
        found = onnx.scores(batch.items, batch.events)
        assert found.shape == expected.shape
        assert torch.allclose(found, expected, atol=1e-4)
        assert torch.equal(torch.topk(found, 10).indices, torch.topk(expected, 10).indices), (
            "same top-10 in the same order"
        )
    single = planted.samples["test"].batch(slice(0, 1))  # the batch axis is dynamic
    assert onnx.scores(single.items, single.events).shape == (1, trained.num_items)


def test_engine_on_onnx_answers_like_torch(saved, tmp_path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(saved, folder)
    torch_engine = SessionEngine.load(folder)
    onnx_engine = SessionEngine.load(folder, backend="onnx")
    assert (folder / ONNX_FILE).is_file()  # exported on first use
    sessions = [["p00", "p01"], ["p22"], [], ["?", "p35", "p36", "p37"]]
    for a, b in zip(
        onnx_engine.recommend_batch(sessions, 5),
        torch_engine.recommend_batch(sessions, 5),
        strict=True,
    ):
        assert (a.items, a.strategy, a.unknown_items) == (b.items, b.strategy, b.unknown_items)
        assert a.scores == pytest.approx(b.scores, abs=1e-4)


def test_a_damaged_onnx_file_is_a_model_error(tmp_path) -> None:
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"nothing")
    with pytest.raises(ModelError, match="cannot load the ONNX session model"):
        OnnxSessionScorer(bad)
