"""Answers encoded from item cards: the same document the response schema describes."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from storex.serve.api.cards import Card, ItemCards, encode_recommendations
from storex.serve.api.schemas import RecommendationsOut
from storex.serve.engine import Explanation, ScoredItem


def catalog() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["i1", "i2", 'q"3'],
            "title": ['The "Heat" \\ (1995)', None, "Amélie"],
            "categories": [["Action", "Crime"], [], ["Comédie"]],
            "price": [14.5, math.nan, 3.0],
            "in_stock": [True, False, True],
        }
    )


def answer(cards: ItemCards, **overrides: object) -> dict[str, object]:
    items = [
        ScoredItem("i1", 0.1 + 0.2, (Explanation('q"3', 0.5, 4.0, "item_weights"),)),
        ScoredItem("i2", -1e-12),
        ScoredItem('q"3', 3.0),
        ScoredItem("gone", 1e300),
    ]
    ids = [i.item_id for i in items]
    fields: dict[str, object] = {
        "user_id": "ü-1",
        "strategy": "fold_in",
        "confidence": 0.375,
        "model_version": "20250101T000000Z",
        "cached": False,
        "items": items,
        "cards": cards.pick(ids),
    }
    fields.update(overrides)
    return json.loads(encode_recommendations(**fields))  # type: ignore[arg-type]


def test_an_answer_is_the_documented_json_with_each_items_card() -> None:
    cards = ItemCards()
    cards.fill(catalog())
    body = answer(cards)
    assert RecommendationsOut.model_validate(body).model_dump(mode="json") == body
    assert body["user_id"] == "ü-1" and body["confidence"] == 0.375
    first, second, third, unknown = body["items"]
    assert first == {
        "id": "i1",
        "title": 'The "Heat" \\ (1995)',
        "score": 0.1 + 0.2,
        "categories": ["Action", "Crime"],
        "price": 14.5,
        "in_stock": True,
        "because": [
            {"item_id": 'q"3', "title": "Amélie", "weight": 0.5, "rating": 4.0,
             "method": "item_weights"}
        ],
    }  # fmt: skip
    assert (second["title"], second["price"], second["in_stock"]) == (None, None, False)
    assert second["score"] == -1e-12 and third["categories"] == ["Comédie"]
    assert unknown == {
        "id": "gone",
        "title": None,
        "score": 1e300,
        "categories": [],
        "price": None,
        "in_stock": None,
        "because": [],
    }


def test_an_answer_without_model_or_items() -> None:
    body = answer(ItemCards(), model_version=None, items=[], strategy="popularity")
    assert body["items"] == [] and body["model_version"] is None
    RecommendationsOut.model_validate(body)


def test_an_answer_lists_the_unknown_allowed_items() -> None:
    assert answer(ItemCards())["unknown_items"] == []
    body = answer(ItemCards(), unknown_items=['z"1', "ü"])
    assert body["unknown_items"] == ['z"1', "ü"]
    assert RecommendationsOut.model_validate(body).model_dump(mode="json") == body


@pytest.mark.parametrize("score", [math.nan, math.inf, -math.inf])
def test_a_score_json_cannot_hold_is_refused(score: float) -> None:
    with pytest.raises(ValueError, match="a score must be finite"):
        answer(ItemCards(), items=[ScoredItem("i1", score)])


def test_cards_of_the_catalog_and_the_missing_ones() -> None:
    cards = ItemCards()
    cards.fill(catalog())
    assert cards.missing(["i1", "x", "i2", "y"]) == ["x", "y"]
    assert set(cards.pick(["i1", "x"])) == {"i1"}
    assert Card.of("i9", title=math.nan, price=None) == Card.of("i9")
