"""Fixtures of the session tests: the planted data set and one small trained model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from storex.sessions import SessionDataset, SessionModelConfig, SessionRecommender
from tests.sessions.planted import planted_dataset

torch.set_num_threads(1)  # other work shares the machine


def small_config(**changes: object) -> SessionModelConfig:
    """Settings that learn the planted rule in a second or two."""
    values: dict[str, object] = {
        "dim": 32,
        "pe_dim": 4,
        "epochs": 12,
        "patience": 3,
        "batch_size": 64,
        "lr": 0.01,
        "dropout": 0.0,
    }
    return SessionModelConfig(**{**values, **changes})  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def planted() -> SessionDataset:
    return planted_dataset()


@pytest.fixture(scope="session")
def trained(
    planted: SessionDataset, tmp_path_factory: pytest.TempPathFactory
) -> SessionRecommender:
    """A graph transformer fitted on the planted store."""
    cache = tmp_path_factory.mktemp("pe-cache")
    return SessionRecommender(small_config()).fit(planted, cache_dir=cache)


@pytest.fixture(scope="session")
def saved(trained: SessionRecommender, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained.save(tmp_path_factory.mktemp("models") / "session-model")
