"""The co-occurrence prior: the neighbour table, the scores it adds, training, saving, ONNX."""

from __future__ import annotations

import pytest
import torch

from storex.errors import ConfigError
from storex.sessions import SessionRecommender, evaluate_next_item
from storex.sessions.graph import ItemGraph
from storex.sessions.model import SessionGraphModule
from storex.sessions.prior import CooccurrencePrior, neighbour_table
from tests.sessions.conftest import small_config


def path_graph() -> ItemGraph:
    """0 - 1 - 2 (weights 1 and 3, both directions) and a lone item 3."""
    edges = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    return ItemGraph(edges, torch.tensor([1.0, 1.0, 3.0, 3.0]), 4)


def test_neighbour_table_rows_are_shares_of_each_items_cooccurrences() -> None:
    index, values = neighbour_table(path_graph())
    assert index.shape == values.shape == (4, 2)  # the widest row: item 1 has two neighbours
    dense = torch.zeros(4, 4).index_put_(
        (torch.arange(4).repeat_interleave(2), index.view(-1)), values.view(-1), accumulate=True
    )
    expected = torch.tensor(
        [[0, 1, 0, 0], [0.25, 0, 0.75, 0], [0, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.float32
    )
    assert torch.allclose(dense, expected)


def test_prior_adds_each_steps_row_with_its_column_weight() -> None:
    prior = CooccurrencePrior(*neighbour_table(path_graph()), max_length=3)
    with torch.no_grad():
        prior.weight.copy_(torch.tensor([5.0, 2.0, 1.0]))  # oldest .. latest column
    scores = prior(torch.tensor([[-1, 0, 1], [-1, -1, 3]]))
    assert torch.allclose(scores[0], torch.tensor([0.25, 2.0, 0.75, 0.0]))
    assert scores[1].abs().sum() == 0  # a lone item votes for nothing, padding adds nothing
    assert torch.equal(prior(torch.tensor([[0, 1]])), prior(torch.tensor([[-1, 0, 1]])))


def test_model_scores_include_the_prior(planted) -> None:
    config = small_config(graph_prior=True, pe_dim=0)
    table = neighbour_table(planted.graph)
    module = SessionGraphModule(config, planted.num_items, 6, neighbours=table).eval()
    batch = planted.samples["test"].batch(slice(0, 5))
    without = module(batch.items, batch.events, planted.graph)
    assert module.prior is not None
    with torch.no_grad():
        module.prior.weight.fill_(1.0)
    added = module(batch.items, batch.events, planted.graph) - without
    assert torch.allclose(added, module.prior(batch.items), atol=1e-5)
    assert added.abs().sum() > 0
    with pytest.raises(ConfigError, match="neighbour table"):
        SessionGraphModule(config, planted.num_items, 6)


@pytest.mark.parametrize("encoder", ["graphsage", "graph_transformer"])
def test_models_with_the_prior_learn_the_planted_rule_and_reload(
    planted, tmp_path, encoder
) -> None:
    model = SessionRecommender(small_config(encoder=encoder, graph_prior=True)).fit(
        planted, cache_dir=tmp_path
    )
    assert evaluate_next_item(model, planted.samples["test"], ks=(1,))["recall@1"] >= 0.9
    loaded = SessionRecommender.load(model.save(tmp_path / "model"))
    batch = planted.samples["test"]
    assert torch.allclose(
        loaded.scores(batch.items, batch.events), model.scores(batch.items, batch.events)
    )


def test_onnx_export_keeps_the_prior(planted, tmp_path) -> None:
    pytest.importorskip("onnxruntime", reason="the ONNX tests need the 'export' extra")
    from storex.sessions import OnnxSessionScorer, export_onnx

    model = SessionRecommender(small_config(graph_prior=True, epochs=2, patience=0)).fit(
        planted, cache_dir=tmp_path
    )
    assert model.module_ is not None and model.module_.prior is not None
    assert model.module_.prior.weight.abs().sum() > 0  # trained, so the export must carry it
    onnx = OnnxSessionScorer(export_onnx(model, tmp_path / "model.onnx"))
    batch = planted.samples["test"]
    expected = model.scores(batch.items, batch.events)
    assert torch.allclose(onnx.scores(batch.items, batch.events), expected, atol=1e-4)
