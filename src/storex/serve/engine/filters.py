"""The shop's catalog as arrays aligned with the engine's item indices, for fast filters.

Filters never fail on unknown values: a category nobody carries, a price range nothing
falls into or allowed ids the engine does not know simply leave fewer (or no) candidates.
Items the catalog table does not describe have no category, an unknown price and count as
in stock; an unknown price never passes a price filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from storex.data.schema import conform_items
from storex.errors import DataError
from storex.idmap import IdMap

_TABLE = "catalog table"


class Catalog:
    """Category sets, prices and stock flags of the items of an :class:`IdMap`."""

    def __init__(self, size: int) -> None:
        self.price = np.full(size, np.nan)
        self.in_stock = np.ones(size, dtype=bool)
        self._categories: dict[str, set[int]] = {}

    @property
    def size(self) -> int:
        return len(self.price)

    @classmethod
    def from_frame(cls, items: pd.DataFrame, item_map: IdMap) -> tuple[Catalog, int, set[int]]:
        """Catalog of ``item_map``'s items from a canonical items table.

        Returns the catalog, the number of table rows naming items the engine does not know
        (kept out, reported by the caller) and the indices the table described.
        """
        if "item_id" not in items.columns:
            raise DataError(f"{_TABLE}: no 'item_id' column", column="item_id")
        frame = conform_items(items)
        duplicated = frame["item_id"].duplicated() & frame["item_id"].notna()
        if duplicated.any():
            raise DataError(
                f"{_TABLE}: {int(duplicated.sum())} duplicated item id(s), "
                f"e.g. {frame['item_id'][duplicated].iloc[0]!r}",
                column="item_id",
            )
        catalog = cls(len(item_map))
        index = item_map.lookup(frame["item_id"].fillna(""))
        known = index >= 0
        rows = frame[known]
        catalog._fill(index[known], rows)
        return catalog, int((~known).sum()), {int(i) for i in index[known]}

    def append(self, item: int, row: Mapping[str, Any]) -> None:
        """Describe item ``item`` (the next index, or an existing one to update it)."""
        if item > self.size:
            raise ValueError(f"item index {item} skips past the catalog end {self.size}")
        if item == self.size:
            self.price = np.append(self.price, np.nan)
            self.in_stock = np.append(self.in_stock, True)
        frame = conform_items(pd.DataFrame([{**row, "item_id": str(item)}]))
        for members in self._categories.values():
            members.discard(item)
        self._fill(np.array([item]), frame)

    def extend(self, items: np.ndarray, rows: pd.DataFrame) -> None:
        """Describe new items ``items`` (the next indices, in order) from canonical rows."""
        if items.size and not np.array_equal(items, np.arange(self.size, self.size + items.size)):
            raise ValueError(f"new item indices must continue the catalog end {self.size}")
        self.price = np.append(self.price, np.full(items.size, np.nan))
        self.in_stock = np.append(self.in_stock, np.ones(items.size, dtype=bool))
        self._fill(items, conform_items(rows.assign(item_id=[str(i) for i in items])))

    def mask(
        self,
        *,
        category: str | None = None,
        min_price: float | None = None,
        max_price: float | None = None,
        allowed: Iterable[int] | None = None,
        in_stock_only: bool = False,
    ) -> Tensor | None:
        """Boolean mask of items passing every given filter; None when no filter is given."""
        keep = np.ones(self.size, dtype=bool)
        used = False
        if category is not None:
            used = True
            members = self._categories.get(_level(category), set())
            in_category = np.zeros(self.size, dtype=bool)
            in_category[list(members)] = True
            keep &= in_category
        if min_price is not None or max_price is not None:
            used = True
            with np.errstate(invalid="ignore"):
                if min_price is not None:
                    keep &= self.price >= float(min_price)
                if max_price is not None:
                    keep &= self.price <= float(max_price)
        if allowed is not None:
            used = True
            chosen = np.zeros(self.size, dtype=bool)
            chosen[np.fromiter(allowed, dtype=np.int64)] = True
            keep &= chosen
        if in_stock_only:
            used = True
            keep &= self.in_stock
        return torch.from_numpy(keep) if used else None

    def _fill(self, items: np.ndarray, rows: pd.DataFrame) -> None:
        self.price[items] = rows["price"].to_numpy(dtype=np.float64)
        if "in_stock" in rows.columns:
            self.in_stock[items] = _stock_flags(rows["in_stock"])
        for item, levels in zip(items, rows["categories"], strict=True):
            for level in levels:
                self._categories.setdefault(_level(level), set()).add(int(item))


def _level(value: str) -> str:
    """Categories match case-insensitively and without surrounding spaces."""
    return str(value).strip().casefold()


def _stock_flags(values: pd.Series) -> np.ndarray:
    """``in_stock`` as booleans: missing counts as in stock; text like 'no'/'false' does not."""
    text = values.astype("string").str.strip().str.casefold()
    known = {"true": True, "1": True, "1.0": True, "yes": True}
    known |= {"false": False, "0": False, "0.0": False, "no": False}
    mapped = text.map(known, na_action="ignore")
    bad = text.notna() & mapped.isna()
    if bad.any():
        raise DataError(
            f"{_TABLE}: in_stock must be a boolean, got {text[bad].iloc[0]!r}", column="in_stock"
        )
    return mapped.fillna(True).to_numpy(dtype=bool)
