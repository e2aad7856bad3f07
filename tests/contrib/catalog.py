"""A shop's own catalog for the ``STOREX['ITEMS']`` hook in the tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def lookup(item_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Titles, links and prices of the checkerboard's items (``i0`` .. ``i15``)."""
    return {
        i: {"title": f"Product {i[1:]}", "url": f"/products/{i}/", "price": 10.0 * int(i[1:])}
        for i in item_ids
        if i.startswith("i") and i[1:].isdigit()
    }
