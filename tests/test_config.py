from pathlib import Path

import pytest

from storex.config import ServeSettings, load_settings
from storex.errors import ConfigError


def test_defaults_are_sane(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.split.strategy == "random"
    assert settings.split.ratios == (0.8, 0.1, 0.1)
    assert settings.cleaning.k_core == 0


def test_environment_overrides_nested_values(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STOREX_SPLIT__STRATEGY", "temporal")
    monkeypatch.setenv("STOREX_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.split.strategy == "temporal"
    assert settings.data_dir == tmp_path


def test_yaml_file_is_read_and_env_wins(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    Path("config.yaml").write_text("seed: 7\nsplit:\n  gap_days: 1.5\nlog_level: DEBUG\n")
    monkeypatch.setenv("STOREX_SEED", "9")
    settings = load_settings()
    assert settings.split.gap_days == 1.5
    assert settings.log_level == "DEBUG"
    assert settings.seed == 9


def test_named_config_file_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("STOREX_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_settings()


def test_bad_yaml_names_the_file(monkeypatch, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    monkeypatch.setenv("STOREX_CONFIG", str(bad))
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        load_settings()


def test_invalid_values_name_the_field(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"split: .*sum to 1"):
        load_settings(split={"ratios": (0.5, 0.1, 0.1)})
    with pytest.raises(ConfigError, match="log_level"):
        load_settings(log_level="LOUD")


def test_service_settings_nest_under_serve(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STOREX_SERVE__PORT", "9001")
    monkeypatch.setenv("STOREX_SERVE__CORS_ORIGINS", '["https://shop.example"]')
    monkeypatch.setenv("STOREX_SERVE__API_KEY", "s3cret")
    monkeypatch.setenv("STOREX_MODELS_DIR", str(tmp_path / "bundles"))
    Path("config.yaml").write_text("serve:\n  database_url: sqlite:///shop.db\n  port: 7000\n")
    settings = load_settings()
    assert settings.serve.port == 9001  # the environment wins over the file
    assert settings.serve.database_url == "sqlite:///shop.db"
    assert settings.serve.cors_origins == ("https://shop.example",)
    assert settings.serve.api_key is not None
    assert settings.serve.api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.models_dir == tmp_path / "bundles"


def test_service_defaults(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    serve = load_settings().serve
    assert serve.database_url == "sqlite:///storex.db"
    assert (serve.host, serve.port, serve.api_key, serve.seed_database) == (
        "127.0.0.1",
        8000,
        None,
        True,
    )


def test_flat_service_variables_are_refused_not_ignored(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STOREX_SERVE_API_KEY", "s3cret")
    monkeypatch.setenv("STOREX_SERVE_MODELS_DIR", "bundles")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert "STOREX_SERVE_API_KEY (use STOREX_SERVE__API_KEY)" in message
    assert "STOREX_SERVE_MODELS_DIR (use STOREX_MODELS_DIR)" in message
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("serve", "field"),
    [({"api_key": "  "}, "serve.api_key"), ({"port": 70000}, "serve.port")],
)
def test_bad_service_settings_name_the_field(monkeypatch, tmp_path, serve, field):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=field):
        load_settings(serve=serve)


def _session_model(models_dir: Path, model: str, version: str) -> Path:
    """A folder laid out like a saved session model (the settings look at the manifest)."""
    folder = models_dir / "sessions" / model / version
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    return folder


def test_session_model_defaults_to_the_newest_under_models_dir(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STOREX_MODELS_DIR", str(tmp_path / "models"))
    assert load_settings().serve.session_model_dir is None  # nothing trained yet
    assert load_settings().serve.session_backend == "torch"
    _session_model(tmp_path / "models", "graph_transformer", "20240101T000000Z")
    newest = _session_model(tmp_path / "models", "gat", "20240301T000000Z")
    _session_model(tmp_path / "models", "graphsage", "20240201T000000Z")
    (tmp_path / "models" / "sessions" / "gat" / "20250101T000000Z").mkdir()  # no manifest
    assert load_settings().serve.session_model_dir == newest
    assert load_settings(serve=ServeSettings(port=9)).serve.session_model_dir == newest
    elsewhere = tmp_path / "other"
    _session_model(elsewhere, "gat", "20200101T000000Z")
    assert load_settings(models_dir=elsewhere).serve.session_model_dir == (
        elsewhere / "sessions" / "gat" / "20200101T000000Z"
    )


def test_a_named_or_disabled_session_model_wins_over_the_newest(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STOREX_MODELS_DIR", str(tmp_path / "models"))
    _session_model(tmp_path / "models", "gat", "20240301T000000Z")
    monkeypatch.setenv("STOREX_SERVE__SESSION_MODEL_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("STOREX_SERVE__SESSION_BACKEND", "onnx")
    serve = load_settings().serve
    assert (serve.session_model_dir, serve.session_backend) == (tmp_path / "mine", "onnx")
    monkeypatch.setenv("STOREX_SERVE__SESSION_MODEL_DIR", "")
    assert load_settings().serve.session_model_dir is None
    monkeypatch.delenv("STOREX_SERVE__SESSION_MODEL_DIR")
    Path("config.yaml").write_text("serve:\n  session_model_dir: null\n")
    assert load_settings().serve.session_model_dir is None


def test_unknown_session_backend_names_the_field(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"serve\.session_backend"):
        load_settings(serve={"session_backend": "tensorrt"})
