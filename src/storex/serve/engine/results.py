"""What the engine answers: plain dataclasses that turn into JSON and back (for the cache)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

Strategy = Literal["personalized", "fold_in", "cold_start_features", "popularity"]
STRATEGIES: tuple[Strategy, ...] = ("personalized", "fold_in", "cold_start_features", "popularity")


@dataclass(frozen=True, slots=True)
class Explanation:
    """One of the user's items behind a recommendation ("because you rated X").

    ``weight`` is the model's item-item weight from ``item_id`` to the recommended item
    (``method`` says which: ``item_weights`` of an item-item model, ``embedding_cosine``, or
    ``cooccurrence`` on the training graph for models with neither).
    """

    item_id: str
    weight: float
    rating: float | None
    method: str


@dataclass(frozen=True, slots=True)
class ScoredItem:
    """A recommended (or similar) item: external id, model score, optional reasons."""

    item_id: str
    score: float
    because: tuple[Explanation, ...] = ()


@dataclass(frozen=True, slots=True)
class Recommendations:
    """A ranked answer for one user.

    ``strategy`` is the path that produced the scores (see the engine's docstring);
    ``confidence`` in ``[0, 1]`` is the share of personal evidence behind them,
    ``e / (e + half)``, where ``e`` counts the user's positive interactions the scores rest on
    plus one when the model read the user's features, and ``half`` (default 5) is the
    evidence at which confidence reaches 0.5. Popularity answers have confidence 0.
    """

    user_id: str
    items: tuple[ScoredItem, ...]
    strategy: Strategy
    confidence: float
    model_version: str
    cached: bool = False

    @property
    def item_ids(self) -> list[str]:
        return [item.item_id for item in self.items]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Recommendations:
        items = tuple(
            ScoredItem(
                str(item["item_id"]),
                float(item["score"]),
                tuple(Explanation(**because) for because in item.get("because", ())),
            )
            for item in payload["items"]
        )
        return cls(
            user_id=str(payload["user_id"]),
            items=items,
            strategy=payload["strategy"],
            confidence=float(payload["confidence"]),
            model_version=str(payload["model_version"]),
            cached=bool(payload.get("cached", False)),
        )

    def as_cached(self) -> Recommendations:
        return replace(self, cached=True)
