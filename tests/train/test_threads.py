"""The training thread count: explicit settings, and the load-aware default."""

from __future__ import annotations

import os

import pytest
import torch

from storex.errors import ConfigError
from storex.train import threads
from storex.train.threads import default_threads, resolve_threads


@pytest.fixture
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)


@pytest.mark.parametrize(("load", "expected"), [(0.0, 2), (0.4, 2), (0.6, 1), (1.2, 1), (7.5, 1)])
def test_default_leaves_the_busy_cores_alone(
    two_cores: None, monkeypatch: pytest.MonkeyPatch, load: float, expected: int
) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0))
    assert default_threads() == expected


def test_default_without_a_load_average_takes_every_core(
    two_cores: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable() -> tuple[float, float, float]:
        raise OSError("no load average")

    monkeypatch.setattr(os, "getloadavg", unavailable)
    assert default_threads() == 2


def test_explicit_counts_win_and_bad_ones_are_refused(
    two_cores: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert resolve_threads(3) == 3 and resolve_threads("1") == 1
    assert resolve_threads(None) == resolve_threads("auto") == 2
    for bad in (0, -1, "many", 1.5, True):
        with pytest.raises(ConfigError, match="threads"):
            resolve_threads(bad)


def test_training_uses_the_default_unless_told(
    two_cores: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.train.test_trainer import grouped_data, lightgcn

    previous = torch.get_num_threads()
    try:
        monkeypatch.setattr(os, "getloadavg", lambda: (1.0, 0.0, 0.0))
        torch.set_num_threads(2)
        lightgcn(epochs=1, extra={"threads": "auto"}).fit(grouped_data())
        assert torch.get_num_threads() == 1
        lightgcn(epochs=1, extra={"threads": 2}).fit(grouped_data())
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
