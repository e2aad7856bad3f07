from pathlib import Path

import pytest

from storex.config import load_settings
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
