"""The item writes behind ``POST`` and ``PUT /api/items`` for any caller: values the items
table cannot hold are refused naming the field, and nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from storex.errors import DataError
from storex.serve.db import DuplicateError, get_item_by_external
from storex.serve.db.crud import create_item, update_item


def test_an_item_is_created_changed_and_never_repeated(session: Session) -> None:
    made = create_item(session, " p1 ", title="Lamp", categories=("Home",), price=12.5)
    session.commit()
    assert (made.external_id, made.categories, made.in_stock) == ("p1", ["Home"], True)
    with pytest.raises(DuplicateError, match="an item with id 'p1' already exists"):
        create_item(session, "p1")
    changed = update_item(session, "p1", price=None, in_stock=False)
    session.commit()
    assert changed is not None and (changed.price, changed.in_stock, changed.title) == (
        None,
        False,
        "Lamp",
    )
    assert update_item(session, "nope", price=1.0) is None


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"price": -1.0}, "price", "price must be a finite number >= 0"),
        ({"price": float("nan")}, "price", "price must be a finite number >= 0"),
        ({"price": 1e10}, "price", "price must be at most 9999999999.99"),
        ({"categories": "Home"}, "categories", "categories must be a list of texts"),
        ({"categories": ["Home", 3]}, "categories", "categories must be a list of texts"),
        ({"in_stock": "yes"}, "in_stock", "in_stock must be true or false"),
        ({"colour": "red"}, "colour", "items have no field 'colour'"),
    ],
)
def test_values_the_table_cannot_hold_are_refused(
    session: Session, values: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(DataError, match=message) as refused:
        create_item(session, "p2", **values)
    assert refused.value.column == field
    with pytest.raises(DataError, match=message):
        update_item(session, "p2", **values)
    assert get_item_by_external(session, "p2") is None
    with pytest.raises(DataError, match="external_id is empty"):
        create_item(session, "  ")
