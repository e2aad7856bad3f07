"""What an answer shows of each item, kept in memory with its JSON already encoded.

A recommendation answer repeats, for every item, its title, categories, price and stock.
Those are the catalog the engine was given, so they are encoded once per item
(:class:`Card`) and an answer is put together from the pieces: the answers' JSON costs a
string join per item instead of encoding every field of every item again.
:func:`encode_recommendations` writes exactly what :class:`~storex.serve.api.schemas.
RecommendationsOut` describes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from storex.serve.db import Item
from storex.serve.engine import Explanation, ScoredItem


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Card:
    """An item as answers show it.

    ``id_json`` is the item id as a JSON string and ``json`` the other fields as JSON object
    members: ``"title":...,"categories":[...],"price":...,"in_stock":...``.
    """

    title: str | None
    categories: tuple[str, ...]
    price: float | None
    in_stock: bool | None
    id_json: str
    json: str

    @classmethod
    def of(
        cls,
        item_id: str,
        title: Any = None,
        categories: Iterable[Any] = (),
        price: Any = None,
        in_stock: bool | None = None,
    ) -> Card:
        """A card from raw values; a missing title or price (None or NaN) reads as null."""
        text = title if isinstance(title, str) else None
        names = tuple(str(c) for c in categories)
        amount = float(price) if price is not None and math.isfinite(price) else None
        stock = None if in_stock is None else bool(in_stock)
        fields = {"title": text, "categories": names, "price": amount, "in_stock": stock}
        return cls(text, names, amount, stock, _dumps(item_id), _dumps(fields)[1:-1])


def card_of(item: Item) -> Card:
    """The card of an items-table row."""
    return Card.of(item.external_id, item.title, item.categories or (), item.price, item.in_stock)


class ItemCards:
    """Cards by external item id."""

    def __init__(self) -> None:
        self._cards: dict[str, Card] = {}

    def fill(self, catalog: pd.DataFrame) -> None:
        """Describe every item of a catalog table (``item_id``, ``title``, ``categories``,
        ``price``, ``in_stock``)."""
        self._cards = {
            row["item_id"]: Card.of(
                row["item_id"], row["title"], row["categories"] or (), row["price"], row["in_stock"]
            )
            for row in catalog.to_dict("records")
        }

    def put(self, item: Item) -> None:
        self._cards[item.external_id] = card_of(item)

    def pick(self, item_ids: Iterable[str]) -> dict[str, Card]:
        """The cards of the ``item_ids`` that are known."""
        cards = self._cards
        return {i: cards[i] for i in item_ids if i in cards}

    def missing(self, item_ids: Iterable[str]) -> list[str]:
        cards = self._cards
        return [i for i in item_ids if i not in cards]


def encode_recommendations(
    *,
    user_id: str,
    strategy: str,
    confidence: float,
    model_version: str | None,
    cached: bool,
    items: Iterable[ScoredItem],
    cards: Mapping[str, Card],
    unknown_items: Sequence[str] = (),
) -> bytes:
    """The JSON of a recommendation answer (scores and confidence must be finite)."""
    head = _dumps(
        {
            "user_id": user_id,
            "strategy": strategy,
            "confidence": confidence,
            "model_version": model_version,
            "cached": cached,
        }
    )[:-1]
    parts = []
    for item in items:
        card = cards.get(item.item_id) or Card.of(item.item_id)  # not in the catalog
        because = _reasons(item.because, cards)
        parts.append(
            f'{{"id":{card.id_json},"score":{_number(item.score)},{card.json},"because":{because}}}'
        )
    unknown = _dumps(list(unknown_items))
    return f'{head},"items":[{",".join(parts)}],"unknown_items":{unknown}}}'.encode()


def _reasons(because: Sequence[Explanation], cards: Mapping[str, Card]) -> str:
    if not because:
        return "[]"
    return _dumps(
        [
            {
                "item_id": b.item_id,
                "title": card.title if (card := cards.get(b.item_id)) else None,
                "weight": b.weight,
                "rating": b.rating,
                "method": b.method,
            }
            for b in because
        ]
    )


def _number(value: float) -> str:
    if value - value != 0:  # NaN or infinite: JSON has no such number
        raise ValueError(f"a score must be finite, got {value!r}")
    return repr(float(value))
