"""The synthetic catalog: a category tree, brands, priced products with telling titles.

Products are kept in category order inside (every leaf category is a contiguous slice), so
"another product from the same subcategory" is a draw from a slice. Their public ids are
shuffled, so the id says nothing about the category.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from storex.data.schema import conform_items

from .config import SyntheticConfig
from .sampling import StackedCdf
from .vocabulary import (
    BRAND_CODAS,
    BRAND_ONSETS,
    BRAND_SUFFIXES,
    CATEGORY_TREE,
    LINE_WORDS,
    Top,
)

N_ALTERNATIVES = 2  # companions from the same subcategory (a similar product)
N_ACCESSORIES = 2  # companions from a sibling subcategory (something that goes with it)
IN_STOCK_SHARE = 0.93


@dataclass(frozen=True)
class Catalog:
    """Products in category order, with the hidden traits that drive behaviour."""

    items: pd.DataFrame  # canonical item table, sorted by item_id
    item_ids: np.ndarray  # public id per product (object array of str)
    leaf: np.ndarray  # leaf category index per product
    leaf_bounds: np.ndarray  # products of leaf l are leaf_bounds[l]:leaf_bounds[l+1]
    top_bounds: np.ndarray  # same for top categories
    vectors: np.ndarray  # latent position (n_items, latent_dim)
    popularity: np.ndarray  # Zipf-like base popularity, sums to 1
    quality: np.ndarray  # how much buyers like it, whatever their taste
    trend: np.ndarray  # direction of its popularity drift over time
    price_z: np.ndarray  # log price relative to its leaf's median, standardised
    companions: np.ndarray  # (n_items, 4) products typically viewed right after it

    @property
    def n_items(self) -> int:
        return len(self.leaf)

    @property
    def top(self) -> np.ndarray:
        """Top category index per product."""
        n_sub = (len(self.leaf_bounds) - 1) // (len(self.top_bounds) - 1)
        return self.leaf // n_sub


def build_catalog(config: SyntheticConfig, rng: np.random.Generator) -> Catalog:
    """Draw the whole catalog for ``config`` from ``rng``."""
    n_top, n_sub, dim = config.n_top_categories, config.n_subcategories, config.latent_dim
    tops = CATEGORY_TREE[:n_top]
    leaf_counts = _leaf_sizes(config.n_items, n_top * n_sub, rng)
    leaf = np.repeat(np.arange(n_top * n_sub), leaf_counts)
    leaf_bounds = np.concatenate([[0], np.cumsum(leaf_counts)])
    top_bounds = leaf_bounds[::n_sub]

    brand_names, brand_tops, brand_share = _brands(config, rng)
    brand_tier = rng.normal(0.0, 0.35, len(brand_names))
    brand_quality = 0.5 * brand_tier + rng.normal(0.0, 0.3, len(brand_names))
    brand = np.empty(config.n_items, dtype=np.int64)
    for t in range(n_top):
        sellers = np.flatnonzero(brand_tops[:, t])
        weights = brand_share[sellers] / brand_share[sellers].sum()
        members = slice(top_bounds[t], top_bounds[t + 1])
        brand[members] = rng.choice(sellers, size=top_bounds[t + 1] - top_bounds[t], p=weights)

    top_centre = rng.normal(0.0, 1.0, (n_top, dim))
    leaf_centre = np.repeat(top_centre, n_sub, axis=0) + rng.normal(0.0, 0.7, (n_top * n_sub, dim))
    brand_offset = rng.normal(0.0, 0.4, (len(brand_names), dim))
    vectors = leaf_centre[leaf] + brand_offset[brand] + rng.normal(0.0, 0.5, (config.n_items, dim))

    leaf_median = np.array([lf.median_price for tp in tops for lf in tp.leaves[:n_sub]])
    log_ratio = brand_tier[brand] + rng.normal(0.0, 0.35, config.n_items)
    price = np.maximum(np.floor(leaf_median[leaf] * np.exp(log_ratio)), 0.0) + 0.99
    price_z = (log_ratio - log_ratio.mean()) / max(float(log_ratio.std()), 1e-9)

    quality = brand_quality[brand] + rng.normal(0.0, 0.5, config.n_items)
    rank = np.empty(config.n_items, dtype=np.int64)
    rank[np.argsort(-(quality + rng.normal(0.0, 1.0, config.n_items)))] = np.arange(config.n_items)
    popularity = (rank + 1.0) ** -config.popularity_exponent
    popularity /= popularity.sum()

    start_year = int(config.start_date[:4])
    year = start_year - np.minimum(rng.geometric(0.45, config.n_items) - 1, 12)
    titles = _titles(config, rng, tops, leaf, brand, brand_names, price_z)
    width = max(5, len(str(config.n_items)))
    item_ids = np.array([f"P{n:0{width}d}" for n in rng.permutation(config.n_items) + 1], object)
    paths = [[tp.name, lf.name] for tp in tops for lf in tp.leaves[:n_sub]]
    items = conform_items(
        pd.DataFrame(
            {
                "item_id": item_ids,
                "title": titles,
                "categories": [paths[x] for x in leaf],
                "brand": brand_names[brand],
                "price": price,
                "year": year,
                "in_stock": rng.random(config.n_items) < IN_STOCK_SHARE,
            }
        ).sort_values("item_id")
    )
    companions = _companions(rng, popularity, leaf, leaf_bounds, n_sub)
    return Catalog(
        items=items,
        item_ids=item_ids,
        leaf=leaf,
        leaf_bounds=leaf_bounds,
        top_bounds=top_bounds,
        vectors=vectors,
        popularity=popularity,
        quality=quality,
        trend=rng.normal(0.0, 1.0, config.n_items),
        price_z=price_z,
        companions=companions,
    )


def _leaf_sizes(n_items: int, n_leaves: int, rng: np.random.Generator) -> np.ndarray:
    """Uneven but non-empty subcategories summing to ``n_items``."""
    share = rng.lognormal(0.0, 0.4, n_leaves)
    extra = rng.multinomial(n_items - n_leaves, share / share.sum())
    return extra + 1


def _brands(
    config: SyntheticConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Names, which top categories each brand sells in, and market share weights."""
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < config.n_brands:
        name = rng.choice(BRAND_ONSETS) + rng.choice(BRAND_CODAS) + rng.choice(BRAND_SUFFIXES)
        if name not in seen:
            seen.add(name)
            names.append(str(name))
    n_top = config.n_top_categories
    sells = np.zeros((config.n_brands, n_top), dtype=bool)
    home = rng.permutation(np.arange(config.n_brands) % n_top)
    sells[np.arange(config.n_brands), home] = True
    second = rng.random(config.n_brands) < 0.25
    sells[np.flatnonzero(second), rng.integers(0, n_top, int(second.sum()))] = True
    share = (rng.permutation(config.n_brands) + 1.0) ** -0.8
    return np.array(names, dtype=object), sells, share


def _titles(
    config: SyntheticConfig,
    rng: np.random.Generator,
    tops: tuple[Top, ...],
    leaf: np.ndarray,
    brand: np.ndarray,
    brand_names: np.ndarray,
    price_z: np.ndarray,
) -> list[str]:
    """ "Brand Line [Adjective] Feature Noun Model" — every word but the model says something."""
    n_sub = config.n_subcategories
    leaves = [lf for tp in tops for lf in tp.leaves[:n_sub]]
    line = np.clip(((price_z + 2.0) / 4.0 * len(LINE_WORDS)).astype(int), 0, len(LINE_WORDS) - 1)
    picks = rng.random((len(leaf), 4))
    model = rng.integers(10, 100, len(leaf)) * 10
    titles = []
    for i, (lf, br) in enumerate(zip(leaf.tolist(), brand.tolist(), strict=True)):
        spec = leaves[lf]
        adjectives = tops[lf // n_sub].adjectives
        words = [brand_names[br], LINE_WORDS[line[i]]]
        if picks[i, 0] < 0.5:
            words.append(adjectives[int(picks[i, 1] * len(adjectives))])
        words.append(spec.features[int(picks[i, 2] * len(spec.features))])
        words.append(spec.nouns[int(picks[i, 3] * len(spec.nouns))])
        words.append(f"{brand_names[br][0]}{model[i]}")
        titles.append(" ".join(words))
    return titles


def _companions(
    rng: np.random.Generator,
    popularity: np.ndarray,
    leaf: np.ndarray,
    leaf_bounds: np.ndarray,
    n_sub: int,
) -> np.ndarray:
    """Products often viewed right after each product: alternatives, then accessories.

    Fixed per product, so "what is viewed next" is learnable beyond the category.
    """
    n_items = len(leaf)
    cdf = StackedCdf.from_weights(popularity[None, :])
    rows = np.zeros(n_items * (N_ALTERNATIVES + N_ACCESSORIES), dtype=np.int64)
    source = np.repeat(np.arange(n_items), N_ALTERNATIVES + N_ACCESSORIES)
    kind = np.tile(np.r_[np.zeros(N_ALTERNATIVES, bool), np.ones(N_ACCESSORIES, bool)], n_items)
    own = leaf[source]
    shift = rng.integers(1, max(n_sub, 2), len(source)) % max(n_sub, 1)
    sibling = own - own % n_sub + (own % n_sub + shift) % n_sub
    target = np.where(kind, sibling, own)
    lo, hi = leaf_bounds[target], leaf_bounds[target + 1]
    picked = cdf.draw(rows, lo, hi, rng.random(len(source)))
    clash = (picked == source) & (hi - lo > 1)
    picked[clash] = lo[clash] + (picked[clash] - lo[clash] + 1) % (hi - lo)[clash]
    return picked.reshape(n_items, N_ALTERNATIVES + N_ACCESSORIES)
