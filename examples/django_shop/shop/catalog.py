"""The shop's products: the items of a StoreX data set, read once per process."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.urls import reverse

SHOPPERS = 8


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    categories: tuple[str, ...]
    price: float | None
    in_stock: bool


@dataclass(frozen=True)
class Catalog:
    products: tuple[Product, ...]
    by_id: dict[str, Product]
    shoppers: tuple[str, ...]


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """Products and a few sample shoppers of ``settings.SHOP_CATALOG``."""
    from storex.data.catalog import load_dataset

    data = load_dataset(settings.SHOP_CATALOG)
    if data.items is not None:
        rows = data.items.to_dict("records")
    else:  # a data set without an items table: its ids are all there is
        rows = [{"item_id": i} for i in dict.fromkeys(data.interactions["item_id"])]
    products = tuple(_product(row) for row in rows)
    users = data.users["user_id"] if data.users is not None else data.interactions["user_id"]
    shoppers = tuple(dict.fromkeys(str(u) for u in users))[:SHOPPERS]
    return Catalog(products, {p.id: p for p in products}, shoppers)


def lookup(item_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Titles, links and prices of recommended ids (the ``STOREX['ITEMS']`` hook)."""
    known = catalog().by_id
    return {
        i: {
            "title": known[i].title,
            "url": reverse("product", args=[i]),
            "price": known[i].price,
        }
        for i in item_ids
        if i in known
    }


def _product(row: dict[str, Any]) -> Product:
    price = row.get("price")
    categories = row.get("categories")
    return Product(
        id=str(row["item_id"]),
        title=str(row.get("title") or row["item_id"]),
        categories=tuple(str(c) for c in categories) if categories is not None else (),
        price=None if price is None or price != price else float(price),
        in_stock=bool(row.get("in_stock", True)),
    )
