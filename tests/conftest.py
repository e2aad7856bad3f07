"""Shared fixtures: where the public data sets are, and skipping when they are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from storex.config import load_settings


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The public data folder (``STOREX_DATA_DIR`` or ``../shared/data``)."""
    return load_settings().data_dir


@pytest.fixture(scope="session")
def real_dataset(data_dir: Path):
    """Return a function ``real_dataset("ml-100k")`` giving the folder, or skipping clearly."""

    def locate(relative: str) -> Path:
        path = data_dir / relative
        if not path.exists():
            pytest.skip(f"public data set {relative!r} not found under {data_dir}")
        return path

    return locate
