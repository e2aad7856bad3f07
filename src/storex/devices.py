"""Where training runs: one rule for every trainer, so ``auto`` means the same everywhere."""

from __future__ import annotations

import torch

from storex.errors import ConfigError


def training_device(name: str) -> torch.device:
    """``auto``: a CUDA GPU when one is present, else the CPU; otherwise the named device.

    A name torch does not know is a :class:`ConfigError` naming it.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}"
        ) from exc
