"""configs/sessions.yaml: a data set's entry over the default one, and clear errors."""

from __future__ import annotations

import pytest

from storex.errors import ConfigError
from storex.sessions import SessionDataSettings, SessionModelConfig, session_settings
from storex.sessions.baselines import BASELINES


def test_project_file_gives_valid_settings_for_every_entry() -> None:
    for dataset in ("diginetica-sample", "synthetic", "a-file-never-seen"):
        settings = session_settings(dataset)
        SessionDataSettings.from_dict(settings["data"])
        assert set(settings["baselines"]) <= set(BASELINES)
        for options in settings["models"].values():
            SessionModelConfig.from_dict(options)
        assert "graph_transformer" in settings["models"] and "graphsage" in settings["models"]


def test_dataset_entry_is_merged_over_default(tmp_path) -> None:
    path = tmp_path / "sessions.yaml"
    path.write_text(
        "datasets:\n"
        "  default:\n"
        "    data: {window: 3, top_n: 20}\n"
        "    models: {gt: {encoder: graph_transformer, dim: 64}}\n"
        "  shop:\n"
        "    data: {top_n: 5}\n"
        "    models: {gt: {dim: 32}, sage: {encoder: graphsage}}\n"
    )
    shop = session_settings("shop", path)
    assert shop["data"] == {"window": 3, "top_n": 5}
    assert shop["models"]["gt"] == {"encoder": "graph_transformer", "dim": 32}
    assert shop["models"]["sage"] == {"encoder": "graphsage"}
    assert session_settings("other", path)["data"] == {"window": 3, "top_n": 20}


def test_bad_files_and_keys_are_config_errors(tmp_path) -> None:
    path = tmp_path / "sessions.yaml"
    path.write_text("datasets:\n  shop: {}\n")
    with pytest.raises(ConfigError, match="'default' entry"):
        session_settings("shop", path)
    path.write_text("datasets:\n  default: {model: {}}\n")
    with pytest.raises(ConfigError, match="unknown section"):
        session_settings("shop", path)
    with pytest.raises(ConfigError, match="not found"):
        session_settings("shop", tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="unknown session data setting"):
        SessionDataSettings.from_dict({"windows": 3})
