"""The training device rule shared by the trainers."""

from __future__ import annotations

import pytest
import torch

from storex.devices import training_device
from storex.errors import ConfigError
from storex.sessions import SessionModelConfig


def test_auto_takes_a_gpu_only_when_one_is_present(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert training_device("auto") == torch.device("cuda")
    assert training_device("cpu") == torch.device("cpu")


def test_an_unknown_device_is_refused_when_the_settings_are_read() -> None:
    with pytest.raises(ConfigError, match="'tpu-9'"):
        SessionModelConfig(device="tpu-9")
