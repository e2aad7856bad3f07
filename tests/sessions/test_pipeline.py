"""From a session file to a saved model with the settings file, as a CLI command would."""

from __future__ import annotations

import pytest

from storex.errors import ConfigError
from storex.sessions import SessionEngine, train_session_model
from tests.sessions.planted import planted_store

SETTINGS = """
datasets:
  default:
    data: {blackout_days: 1, max_length: 6, top_n: 10}
    models:
      graphsage: {encoder: graphsage, dim: 32, pe_dim: 4, epochs: 8, lr: 0.01, dropout: 0.0}
  clicks:
    models:
      graphsage: {batch_size: 64}
"""


def test_a_generic_file_trains_and_serves(tmp_path) -> None:
    events = planted_store(sessions=400).interactions
    path = tmp_path / "clicks.tsv"
    frame = events.rename(columns={"session_id": "sessionId", "item_id": "itemId"})
    frame[["sessionId", "itemId", "timestamp"]].to_csv(path, sep="\t", index=False)
    (tmp_path / "sessions.yaml").write_text(SETTINGS)

    model, data = train_session_model(
        path, "graphsage", settings_path=tmp_path / "sessions.yaml", cache_dir=tmp_path
    )
    assert data.name == "clicks" and model.config.batch_size == 64
    assert data.report["rows"] == len(events) and data.report["test_samples"] > 0
    engine = SessionEngine.load(model.save(tmp_path / "model"))
    assert engine.recommend(["p05", "p06"], k=1).items == ["p07"]
    with pytest.raises(ConfigError, match="no session model 'gat'"):
        train_session_model(path, "gat", settings_path=tmp_path / "sessions.yaml")
