"""Item features: categories, title text, price, brand and year, learned on the training items.

The encoder is fitted once on the training catalog and saved as JSON + arrays, so the service
encodes a new item exactly as training did. Groups with no data at fit (a catalog without
prices, say) are left out rather than filled with constant columns; a catalog without any
metadata gives zero features.

Columns, in order: ``category=<level>`` (multi-hot over every level of the category path),
``category_other``/``category_missing``; ``title_svd_<i>`` or ``title_emb_<i>`` and
``title_missing``; ``price_z`` (log1p of the price, standardised) and ``price_missing``;
``brand=<name>``, ``brand_other``, ``brand_missing``; ``year_z`` and ``year_missing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from storex.config import FeatureSettings
from storex.errors import ModelError, NotFittedError
from storex.features.base import (
    MultiHot,
    OneHot,
    Scaler,
    align_rows,
    as_ids,
    key_column,
    maybe_block,
    non_negative_column,
    numeric_column,
    read_state,
    write_state,
)
from storex.features.text import TitleText, fit_title_text, title_text_from_state

STEM = "item_encoder"
_TABLE = "items table"
_COLUMNS = ("title", "categories", "brand", "price", "year")


class ItemEncoder:
    """Turn item metadata into a float32 matrix, one row per requested item id.

    Parameters
    ----------
    settings
        ``text_dim`` (TF-IDF + SVD size, 0 = off), ``top_brands``, ``sentence_model``.
    max_categories, min_category_count
        Vocabulary cap for category levels; the rest are counted in ``category_other``.
    seed
        Seed of the randomized SVD, so refits give the same columns.
    """

    def __init__(
        self,
        settings: FeatureSettings | None = None,
        *,
        max_categories: int = 200,
        min_category_count: int = 2,
        seed: int = 42,
    ) -> None:
        self.settings = settings
        self.max_categories = max_categories
        self.min_category_count = min_category_count
        self.seed = seed

    def fit(self, items: pd.DataFrame | None) -> ItemEncoder:
        """Learn vocabularies and statistics from ``items`` (None: no metadata at all)."""
        settings = self.settings or FeatureSettings()
        vars(self).pop("feature_names_", None)  # unfitted until this fit succeeds
        self.categories_: MultiHot | None = None
        self.text_: TitleText | None = None
        self.price_: Scaler | None = None
        self.brand_: OneHot | None = None
        self.year_: Scaler | None = None
        if items is not None:
            frame = align_rows(
                items, key_column(items, "item_id", _TABLE), "item_id", _COLUMNS, _TABLE
            )
            categories = MultiHot.fit(
                "category",
                frame["categories"],
                max_levels=self.max_categories,
                min_count=self.min_category_count,
            )
            if categories.levels or categories.rare:
                self.categories_ = categories
            self.text_ = fit_title_text(frame["title"], settings, self.seed)
            price = _log_price(frame)
            if np.isfinite(price).any():
                self.price_ = Scaler.fit("price", price, flag=True)
            if settings.top_brands > 0 and frame["brand"].notna().any():
                self.brand_ = OneHot.fit(
                    "brand", frame["brand"], top_n=settings.top_brands, other=True
                )
            year = numeric_column(frame, "year", _TABLE)
            if np.isfinite(year).any():
                self.year_ = Scaler.fit("year", year, flag=True)
        self.feature_names_: list[str] = self._names()
        return self

    def transform(self, items: pd.DataFrame | None, ids: Sequence[str]) -> np.ndarray:
        """Features of ``ids`` in that order; ids missing from ``items`` get missing flags."""
        self._check_fitted()
        index = as_ids(ids)
        out = np.zeros((len(index), len(self.feature_names_)), dtype=np.float32)
        if not self.feature_names_:
            return out
        frame = align_rows(items, index, "item_id", _COLUMNS, _TABLE)
        parts: list[np.ndarray] = []
        if self.categories_ is not None:
            parts.append(self.categories_.transform(frame["categories"]))
        if self.text_ is not None:
            parts.append(self.text_.transform(frame["title"]))
            parts.append(_missing_title(frame["title"])[:, None])
        if self.price_ is not None:
            parts.append(self.price_.transform(_log_price(frame)))
        if self.brand_ is not None:
            parts.append(self.brand_.transform(frame["brand"]))
        if self.year_ is not None:
            parts.append(self.year_.transform(numeric_column(frame, "year", _TABLE)))
        np.concatenate(parts, axis=1, out=out, casting="same_kind")
        return out

    @property
    def n_features_(self) -> int:
        self._check_fitted()
        return len(self.feature_names_)

    def save(self, folder: str | Path) -> None:
        """Write ``item_encoder.json`` and ``item_encoder.npz`` into ``folder``."""
        self._check_fitted()
        arrays: dict[str, np.ndarray] = {}
        text_state = None
        if self.text_ is not None:
            text_state, arrays = self.text_.to_state()
        meta = {
            "params": {
                "settings": (self.settings or FeatureSettings()).model_dump(),
                "max_categories": self.max_categories,
                "min_category_count": self.min_category_count,
                "seed": self.seed,
            },
            "feature_names": self.feature_names_,
            "categories": None if self.categories_ is None else self.categories_.to_state(),
            "text": text_state,
            "price": None if self.price_ is None else self.price_.to_state(),
            "brand": None if self.brand_ is None else self.brand_.to_state(),
            "year": None if self.year_ is None else self.year_.to_state(),
        }
        write_state(folder, STEM, meta, arrays)

    @classmethod
    def load(cls, folder: str | Path) -> ItemEncoder:
        """Rebuild a saved encoder; a missing or damaged file is a ModelError naming it."""
        meta, arrays = read_state(folder, STEM)
        try:
            params = meta["params"]
            encoder = cls(
                FeatureSettings(**params["settings"]),
                max_categories=int(params["max_categories"]),
                min_category_count=int(params["min_category_count"]),
                seed=int(params["seed"]),
            )
            encoder.categories_ = maybe_block(MultiHot.from_state, meta["categories"])
            encoder.text_ = (
                None if meta["text"] is None else title_text_from_state(meta["text"], arrays)
            )
            encoder.price_ = maybe_block(Scaler.from_state, meta["price"])
            encoder.brand_ = maybe_block(OneHot.from_state, meta["brand"])
            encoder.year_ = maybe_block(Scaler.from_state, meta["year"])
            encoder.feature_names_ = encoder._names()
            if encoder.feature_names_ != meta["feature_names"]:
                raise ValueError("feature names do not match the saved blocks")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"{Path(folder) / f'{STEM}.json'}: bad encoder state ({exc!r})"
            ) from exc
        return encoder

    def _names(self) -> list[str]:
        names: list[str] = []
        if self.categories_ is not None:
            names += self.categories_.names
        if self.text_ is not None:
            names += [*self.text_.names, "title_missing"]
        for block in (self.price_, self.brand_, self.year_):
            if block is not None:
                names += block.names
        return names

    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_names_"):
            raise NotFittedError("ItemEncoder is not fitted: call fit(items) or ItemEncoder.load")


def _log_price(frame: pd.DataFrame) -> np.ndarray:
    """log1p of the price: prices span orders of magnitude. A negative price is bad data."""
    return np.log1p(non_negative_column(frame, "price", _TABLE))


def _missing_title(titles: pd.Series) -> np.ndarray:
    clean = titles.astype("string").str.strip()
    return (clean.isna() | (clean == "")).to_numpy(dtype=np.float64)
