"""One data set made ready for session models: sessions, split, samples and item graph.

:func:`prepare_sessions` runs the stages in order (read, sessionize, split, next-item
samples, co-occurrence graph from train) and gathers every stage's counts in one report, so
what was dropped on the way is visible next to the results.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from storex.data.schema import StoreData
from storex.errors import ConfigError
from storex.sessions.build import SessionOptions, build_sessions
from storex.sessions.graph import ItemGraph, build_item_graph
from storex.sessions.samples import NextItemSamples, next_item_samples
from storex.sessions.sources import load_session_source
from storex.sessions.split import PARTS, SessionSplit, SplitOptions, temporal_split


@dataclass(frozen=True)
class SessionDataSettings:
    """Every data-side setting (see :class:`SessionOptions` and :class:`SplitOptions`),
    plus the graph (``window``, ``top_n``) and the steps a prefix keeps (``max_length``)."""

    gap_minutes: float = 30.0
    min_length: int = 2
    events: tuple[str, ...] = ("view", "cart", "purchase")
    collapse_repeats: bool = True
    valid_share: float = 0.15
    test_share: float = 0.15
    blackout_days: float = 2.0
    min_item_count: int = 1
    window: int = 3
    top_n: int = 20
    max_length: int = 20

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SessionDataSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown session data setting(s) {unknown}; known: {sorted(known)}")
        if "events" in values:
            values = {**values, "events": tuple(values["events"])}
        return cls(**values)

    @property
    def sessions(self) -> SessionOptions:
        return SessionOptions(self.gap_minutes, self.min_length, self.events, self.collapse_repeats)

    @property
    def split(self) -> SplitOptions:
        return SplitOptions(
            self.valid_share,
            self.test_share,
            self.blackout_days,
            self.min_item_count,
            self.min_length,
        )


@dataclass(frozen=True)
class SessionDataset:
    """A split data set with next-item samples of every part and the training item graph."""

    name: str
    split: SessionSplit
    samples: dict[str, NextItemSamples]
    graph: ItemGraph
    report: dict[str, Any]

    @property
    def num_items(self) -> int:
        return self.split.num_items

    @property
    def popularity(self) -> np.ndarray:
        """Training steps per item."""
        items = np.asarray(self.split.train.items, dtype=np.int64)
        return np.bincount(items, minlength=self.num_items)


def prepare_sessions(
    source: str | Path | StoreData, settings: SessionDataSettings | None = None
) -> SessionDataset:
    """Read (unless given data), sessionize, split, sample and build the graph."""
    settings = settings or SessionDataSettings()
    data = (
        source
        if isinstance(source, StoreData)
        else load_session_source(source, gap_minutes=settings.gap_minutes)
    )
    table, built = build_sessions(data, settings.sessions)
    split = temporal_split(table, settings.split)
    samples = {part: next_item_samples(split.part(part), settings.max_length) for part in PARTS}
    graph = build_item_graph(
        split.train, split.num_items, window=settings.window, top_n=settings.top_n
    )
    report: dict[str, Any] = {
        **{f"read_{key}": value for key, value in data.read_issues.items()},
        **dict(built),
        **split.report,
        **{f"{part}_samples": len(s) for part, s in samples.items()},
        **{f"{part}_prefixes_cut_to_max_length": s.truncated for part, s in samples.items()},
        "graph_edges": graph.num_edges,
    }
    return SessionDataset(data.name, split, samples, graph, report)
