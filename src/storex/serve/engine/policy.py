"""Which interactions count as positive edges, and which seen items stay excluded.

Positive edges: an explicit ``"rating"`` event is positive when ``rating >= threshold``
(default 3.5, the usual cut on a 1-5 scale); any other event type (``view``, ``cart``,
``purchase``, ...) is implicit feedback and always positive. Training positives stay
positive until the user rates them again or deletes them.

Exclusion: by default every item a user has interacted with is left out of their
recommendations (:class:`ExcludeSeen`). :class:`RepeatAfter` lets items of chosen event types
come back once enough days have passed since the last interaction (consumables bought
again); interactions without a time (those from the training graph) stay excluded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from storex.errors import ConfigError

RATING_EVENT = "rating"
DEFAULT_POSITIVE_THRESHOLD = 3.5
_DAY = 86_400.0


def is_positive(rating: float, event: str, threshold: float) -> bool:
    """Whether one interaction is a positive edge for the model (see the module docstring)."""
    if event != RATING_EVENT:
        return True
    return not math.isnan(rating) and rating >= threshold


class ExclusionPolicy(Protocol):
    """Decides which of a user's seen items are left out of their recommendations."""

    def excluded(self, events: list[str], at: np.ndarray, now: float) -> np.ndarray:
        """Boolean mask over the user's interactions: True = do not recommend again.

        ``events`` are the event types, ``at`` the times (epoch seconds, NaN when unknown).
        """
        ...


class ExcludeSeen:
    """Never recommend an item the user has interacted with (the default)."""

    def excluded(self, events: list[str], at: np.ndarray, now: float) -> np.ndarray:
        return np.ones(len(events), dtype=bool)


@dataclass(frozen=True)
class RepeatAfter:
    """Items whose last event type is in ``days`` may come back after that many days.

    Example: ``RepeatAfter({"purchase": 30})`` re-recommends a product bought more than 30
    days ago; rated or viewed items stay excluded.
    """

    days: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = {event: d for event, d in self.days.items() if not d >= 0}
        if bad:
            raise ConfigError(f"repeat windows must be >= 0 days, got {bad}")

    def excluded(self, events: list[str], at: np.ndarray, now: float) -> np.ndarray:
        window = np.array([self.days.get(e, math.inf) for e in events], dtype=np.float64)
        age_days = (now - np.asarray(at, dtype=np.float64)) / _DAY
        due = np.isfinite(window) & ~np.isnan(age_days) & (age_days >= window)
        return ~due
