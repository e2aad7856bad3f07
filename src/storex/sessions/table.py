"""Sessions as flat arrays: the events of session ``s`` are rows ``offsets[s]:offsets[s+1]``.

One container for every stage: items are external ids (text) until the split fixes the
training vocabulary, then indices (:meth:`SessionTable.encode`). Events are codes into
:data:`EVENT_TYPES`, ordered by strength so that collapsing a repeat keeps the strongest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storex.idmap import IdMap

EVENT_TYPES: tuple[str, ...] = ("view", "cart", "purchase")
"""Event kinds a session keeps, weakest first; a session step stores the code (index)."""


@dataclass(frozen=True)
class SessionTable:
    """Sessions in time order of their first event; events in time order within each.

    Attributes
    ----------
    session_ids
        ``(S,)`` external session ids.
    offsets
        ``(S + 1,)`` int64: session ``s`` holds events ``offsets[s]:offsets[s + 1]``.
    items
        ``(E,)`` item of each event: text ids, or int64 indices once encoded.
    events
        ``(E,)`` int8 code into :data:`EVENT_TYPES`.
    times
        ``(E,)`` float64 seconds since the epoch.
    """

    session_ids: np.ndarray
    offsets: np.ndarray
    items: np.ndarray
    events: np.ndarray
    times: np.ndarray

    def __post_init__(self) -> None:
        if self.offsets.shape != (len(self.session_ids) + 1,) or self.offsets[0] != 0:
            raise ValueError("offsets must start at 0 and have one entry per session plus one")
        if not len(self.items) == len(self.events) == len(self.times) == self.offsets[-1]:
            raise ValueError("items, events and times must hold offsets[-1] entries each")

    @classmethod
    def from_lengths(
        cls,
        session_ids: np.ndarray,
        lengths: np.ndarray,
        items: np.ndarray,
        events: np.ndarray,
        times: np.ndarray,
    ) -> SessionTable:
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(np.asarray(session_ids), offsets, items, events.astype(np.int8), times)

    def __len__(self) -> int:
        return len(self.session_ids)

    def __repr__(self) -> str:
        return f"SessionTable(sessions={len(self)}, events={self.num_events})"

    @property
    def num_events(self) -> int:
        return int(self.offsets[-1])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def starts(self) -> np.ndarray:
        """Time of each session's first event."""
        return self.times[self.offsets[:-1]] if len(self) else np.zeros(0)

    @property
    def ends(self) -> np.ndarray:
        """Time of each session's last event."""
        return self.times[self.offsets[1:] - 1] if len(self) else np.zeros(0)

    @property
    def session_of_event(self) -> np.ndarray:
        return np.repeat(np.arange(len(self)), self.lengths)

    def session(self, s: int) -> np.ndarray:
        """The items of session ``s`` in order."""
        return self.items[self.offsets[s] : self.offsets[s + 1]]

    def select(self, keep: np.ndarray) -> SessionTable:
        """The sessions where the boolean ``keep`` is true, in their order."""
        per_event = np.repeat(keep, self.lengths)
        return SessionTable.from_lengths(
            self.session_ids[keep],
            self.lengths[keep],
            self.items[per_event],
            self.events[per_event],
            self.times[per_event],
        )

    def filter_events(self, keep: np.ndarray) -> SessionTable:
        """Only the events where ``keep`` is true; sessions left empty disappear."""
        lengths = np.bincount(self.session_of_event[keep], minlength=len(self))
        table = SessionTable.from_lengths(
            self.session_ids, lengths, self.items[keep], self.events[keep], self.times[keep]
        )
        return table.select(lengths > 0)

    def collapse_repeats(self) -> tuple[SessionTable, int]:
        """Merge consecutive events of one item in a session into one step.

        The step keeps the first event's time and the strongest event (a view then a cart of
        the same product is one carted step), so a model is never asked to predict the item
        it was just shown. Returns the table and how many events were merged away.
        """
        if not self.num_events:
            return self, 0
        session = self.session_of_event
        first = np.r_[True, (self.items[1:] != self.items[:-1]) | (session[1:] != session[:-1])]
        step = np.cumsum(first) - 1
        strongest = np.zeros(int(step[-1]) + 1, dtype=np.int8)
        np.maximum.at(strongest, step, self.events)
        lengths = np.bincount(session[first], minlength=len(self))
        table = SessionTable.from_lengths(
            self.session_ids, lengths, self.items[first], strongest, self.times[first]
        )
        return table, int((~first).sum())

    def encode(self, item_map: IdMap) -> SessionTable:
        """The same sessions with item indices of ``item_map`` (every item must be in it)."""
        codes = item_map.lookup(self.items.astype(str))
        if (codes < 0).any():
            missing = self.items[np.flatnonzero(codes < 0)[0]]
            raise ValueError(f"item {missing!r} is not in the item map")
        return SessionTable(self.session_ids, self.offsets, codes, self.events, self.times)
