"""Next-item samples: every prefix of a session predicts the item that follows it.

This is the protocol of SR-GNN on DIGINETICA and YOOCHOOSE: a session ``[a, b, c, d]``
yields ``[a] -> b``, ``[a, b] -> c`` and ``[a, b, c] -> d``. Prefixes are right-aligned in a
fixed window of ``max_length`` steps (the latest step in the last column, padding ``-1`` on
the left), so a column index is also the recency of a step. A prefix longer than the window
keeps its latest ``max_length`` steps; the report counts how many were cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from storex.errors import ConfigError
from storex.sessions.table import SessionTable

PAD = -1
"""Item index of an empty step in a padded prefix."""


@dataclass(frozen=True)
class NextItemSamples:
    """Padded prefixes with their next item.

    Attributes
    ----------
    items
        ``(N, L)`` int64 item indices, right-aligned, :data:`PAD` on the left.
    events
        ``(N, L)`` int64 event codes of the steps (0 on padding).
    targets
        ``(N,)`` int64 the item that followed each prefix.
    sessions
        ``(N,)`` int64 the session (row of the source table) each sample came from.
    truncated
        How many prefixes were longer than the window.
    """

    items: Tensor
    events: Tensor
    targets: Tensor
    sessions: Tensor
    truncated: int = 0

    def __len__(self) -> int:
        return int(self.targets.numel())

    def __repr__(self) -> str:
        return f"NextItemSamples(n={len(self)}, max_length={self.max_length})"

    @property
    def max_length(self) -> int:
        return int(self.items.shape[1])

    def batch(self, index: Tensor | slice) -> NextItemSamples:
        """The samples at ``index`` (positions or a slice)."""
        return NextItemSamples(
            self.items[index], self.events[index], self.targets[index], self.sessions[index]
        )

    def to(self, device: torch.device | str) -> NextItemSamples:
        """The samples with their tensors on ``device``."""
        return NextItemSamples(
            self.items.to(device),
            self.events.to(device),
            self.targets.to(device),
            self.sessions.to(device),
            self.truncated,
        )

    def batches(self, size: int, order: Tensor | None = None) -> list[NextItemSamples]:
        """Consecutive batches of ``size`` samples, in ``order`` when given."""
        positions = torch.arange(len(self)) if order is None else order
        return [self.batch(positions[i : i + size]) for i in range(0, len(self), size)]


def next_item_samples(table: SessionTable, max_length: int = 20) -> NextItemSamples:
    """Every prefix of every session in ``table`` (item indices) with its next item."""
    if max_length < 1:
        raise ConfigError(f"max_length must be >= 1, got {max_length}")
    items = np.asarray(table.items, dtype=np.int64)
    lengths = table.lengths
    per_session = np.maximum(lengths - 1, 0)
    total = int(per_session.sum())
    session = np.repeat(np.arange(len(table)), per_session)
    # prefix length of each sample: 1..n-1 within its session
    first = np.repeat(np.cumsum(per_session) - per_session, per_session)
    prefix = np.arange(total) - first + 1
    end = table.offsets[session] + prefix  # exclusive end of the prefix = target position
    column = np.arange(max_length)
    source = end[:, None] - max_length + column[None, :]
    valid = source >= table.offsets[session][:, None]
    source = np.where(valid, source, 0)
    padded_items = np.where(valid, items[source], PAD)
    padded_events = np.where(valid, table.events.astype(np.int64)[source], 0)
    return NextItemSamples(
        items=torch.from_numpy(padded_items),
        events=torch.from_numpy(padded_events),
        targets=torch.from_numpy(items[end] if total else np.zeros(0, dtype=np.int64)),
        sessions=torch.from_numpy(session),
        truncated=int((prefix > max_length).sum()),
    )


def pad_session(
    items: list[int], events: list[int] | None = None, max_length: int = 20
) -> tuple[Tensor, Tensor]:
    """One session's items (and event codes) as a ``(1, max_length)`` right-aligned row."""
    events = [0] * len(items) if events is None else events
    if len(events) != len(items):
        raise ValueError(f"{len(items)} items but {len(events)} event codes")
    items, events = items[-max_length:], events[-max_length:]
    row = torch.full((1, max_length), PAD, dtype=torch.long)
    kinds = torch.zeros((1, max_length), dtype=torch.long)
    if items:
        row[0, -len(items) :] = torch.tensor(items, dtype=torch.long)
        kinds[0, -len(items) :] = torch.tensor(events, dtype=torch.long)
    return row, kinds
