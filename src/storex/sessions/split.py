"""Global temporal split of sessions with blackout gaps, and the training vocabulary.

Session start times cut the log at the ``train_share`` and ``train_share + valid_share``
quantiles. A session belongs to a part only when it lies wholly inside it, and the first
``blackout_days`` after each cut belong to no part: so every valid session starts at least
the blackout after every train session ended, and the same between valid and test. Sessions
that straddle a cut or start inside a blackout are dropped and counted.

Items are then fixed by training: those seen in train at least ``min_item_count`` times. Rarer
and unseen items are removed from every part (counted per part), repeats this creates are
merged again, and sessions left shorter than ``min_length`` are dropped (counted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from storex.errors import ConfigError, EmptyDataError
from storex.idmap import IdMap
from storex.sessions.table import SessionTable

SECONDS_PER_DAY = 86_400.0
PARTS: tuple[str, ...] = ("train", "valid", "test")


@dataclass(frozen=True)
class SplitOptions:
    """Shares of the three parts (by session count, before blackouts) and the gaps."""

    valid_share: float = 0.15
    test_share: float = 0.15
    blackout_days: float = 2.0
    min_item_count: int = 1
    min_length: int = 2

    def __post_init__(self) -> None:
        if not (0 < self.valid_share < 1 and 0 < self.test_share < 1):
            raise ConfigError("valid_share and test_share must be in (0, 1)")
        if self.valid_share + self.test_share >= 1:
            raise ConfigError(
                f"valid_share + test_share must leave room for train, got "
                f"{self.valid_share} + {self.test_share}"
            )
        if self.blackout_days < 0:
            raise ConfigError(f"blackout_days must be >= 0, got {self.blackout_days}")
        if self.min_item_count < 1 or self.min_length < 1:
            raise ConfigError("min_item_count and min_length must be >= 1")


@dataclass(frozen=True)
class SessionSplit:
    """Train, valid and test sessions in item indices of ``item_map`` (the train items)."""

    train: SessionTable
    valid: SessionTable
    test: SessionTable
    item_map: IdMap
    cuts: tuple[float, float]
    report: dict[str, int] = field(default_factory=dict)

    def part(self, name: str) -> SessionTable:
        if name not in PARTS:
            raise KeyError(f"no part {name!r}; parts are {PARTS}")
        return getattr(self, name)

    @property
    def num_items(self) -> int:
        return len(self.item_map)


def temporal_split(table: SessionTable, options: SplitOptions | None = None) -> SessionSplit:
    """Split ``table`` (text item ids) in time; see the module docstring for the rules."""
    options = options or SplitOptions()
    if not len(table):
        raise EmptyDataError("no sessions to split")
    starts, ends = table.starts, table.ends
    train_share = 1.0 - options.valid_share - options.test_share
    cut_valid, cut_test = np.quantile(starts, [train_share, train_share + options.valid_share])
    blackout = options.blackout_days * SECONDS_PER_DAY
    parts = {
        "train": ends < cut_valid,
        "valid": (starts >= cut_valid + blackout) & (ends < cut_test),
        "test": starts >= cut_test + blackout,
    }
    report: Counter[str] = Counter()
    outside = ~(parts["train"] | parts["valid"] | parts["test"])
    report["sessions_outside_parts"] = int(outside.sum())
    report["steps_outside_parts"] = int(table.lengths[outside].sum())
    tables = {name: table.select(mask) for name, mask in parts.items()}

    counts = Counter(tables["train"].items.tolist())
    vocabulary = sorted(item for item, n in counts.items() if n >= options.min_item_count)
    item_map = IdMap(vocabulary)
    known = set(vocabulary)
    encoded = {}
    for name, part in tables.items():
        clean = _known_items_only(part, known, options.min_length, name, report)
        encoded[name] = clean.encode(item_map)
        report[f"{name}_sessions"] = len(clean)
        report[f"{name}_steps"] = clean.num_events
    if not len(encoded["train"]):
        raise EmptyDataError("no training session is left after the split")
    report["items"] = len(item_map)
    return SessionSplit(
        encoded["train"],
        encoded["valid"],
        encoded["test"],
        item_map,
        (float(cut_valid), float(cut_test)),
        dict(report),
    )


def _known_items_only(
    part: SessionTable, known: set[str], min_length: int, name: str, report: Counter[str]
) -> SessionTable:
    """``part`` without items outside ``known``, repeats merged, short sessions dropped."""
    keep = np.fromiter((item in known for item in part.items), dtype=bool, count=part.num_events)
    report[f"{name}_unknown_item_events"] = int((~keep).sum())
    sessions_before = len(part)
    part = part.filter_events(keep)
    report[f"{name}_sessions_emptied"] = sessions_before - len(part)
    part, merged = part.collapse_repeats()
    report[f"{name}_repeats_merged"] = merged
    short = part.lengths < min_length
    report[f"{name}_short_sessions"] = int(short.sum())
    report[f"{name}_short_session_steps"] = int(part.lengths[short].sum())
    return part.select(~short)
