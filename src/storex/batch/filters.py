"""The API's filters for a whole batch: one item mask shared by every user."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from torch import Tensor

from storex.errors import ConfigError
from storex.idmap import IdMap
from storex.serve.engine.filters import Catalog


@dataclass(frozen=True)
class BatchFilters:
    """What the answers may hold, as the ``/recommendations`` query parameters say it."""

    exclude_rated: bool = True
    category: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    in_stock_only: bool = False
    allowed_items: tuple[str, ...] | None = None

    @property
    def needs_catalog(self) -> bool:
        """True when a filter reads item metadata (categories, prices, stock)."""
        return (
            self.category is not None
            or self.min_price is not None
            or self.max_price is not None
            or self.in_stock_only
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def item_mask(self, item_map: IdMap, catalog: pd.DataFrame | None) -> Tensor | None:
        """Boolean mask over ``item_map``'s items passing every filter; None: all pass.

        The mask is the service's own (:meth:`Catalog.mask`), so the batch and the API
        agree item for item.
        """
        if self.needs_catalog and catalog is None:
            raise ConfigError(
                "category, price and stock filters need the shop's catalog: give --catalog "
                "FILE or a database that holds the items"
            )
        table = Catalog(len(item_map))
        if catalog is not None:
            table, _, _ = Catalog.from_frame(catalog, item_map)
        allowed = None
        if self.allowed_items is not None:
            indices = item_map.lookup(list(self.allowed_items))
            allowed = [int(i) for i in indices if i >= 0]
        return table.mask(
            category=self.category,
            min_price=self.min_price,
            max_price=self.max_price,
            allowed=allowed,
            in_stock_only=self.in_stock_only,
        )
