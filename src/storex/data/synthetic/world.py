"""Everything shared by all shoppers: the catalog, the personas and what each one likes.

A persona (latent taste factor) is a direction in the catalog's latent space plus a price
attitude. Its preference over products, at a point in time, is

    popularity(i) * exp(taste_strength * affinity(persona, i) + drift * trend(i) * x(t))

with ``x(t)`` going from -1 to +1 over the log. The log is cut into a few time bins and
each (bin, persona) row is kept as a cumulative table, so a shopper's pick is one
``searchsorted``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from storex.data.schema import interactions_frame

from .catalog import Catalog, build_catalog
from .config import SyntheticConfig
from .sampling import StackedCdf
from .vocabulary import OCCUPATIONS

MAX_TABLE_CELLS = 8_000_000  # cap on bins * personas * items (64 MB of float64)
MAX_TIME_BINS = 8
TREND_SCALE = 1.5  # popularity log-odds swing of a one-sigma trend at drift = 1
AGE_EDGES = (25, 35, 50)  # age groups: <25, 25-34, 35-49, 50+


@dataclass(frozen=True)
class World:
    catalog: Catalog
    affinity: np.ndarray  # (personas, items), standardised per persona
    usual_affinity: np.ndarray  # (2, personas): mean and spread of what a persona picks
    table: StackedCdf  # row = bin * personas + persona
    n_bins: int
    gender_effect: np.ndarray  # (2, personas): F, M
    age_effect: np.ndarray  # (age groups, personas)
    occupation_effect: np.ndarray  # (occupations, personas)
    item_id_array: pa.Array  # public item ids, for building event columns
    interaction_schema: pa.Schema  # canonical columns, with pandas dtypes attached

    @property
    def n_personas(self) -> int:
        return self.affinity.shape[0]


def build_world(config: SyntheticConfig) -> World:
    """The deterministic world of ``config`` (its own random stream, apart from shoppers)."""
    rng = np.random.default_rng([config.seed, 0])
    catalog = build_catalog(config, rng)
    k = config.latent_dim
    direction = rng.normal(0.0, 1.0, (k, catalog.vectors.shape[1]))
    price_taste = rng.normal(0.0, 0.6, k)
    raw = direction @ catalog.vectors.T + price_taste[:, None] * catalog.price_z[None, :]
    affinity = (raw - raw.mean(axis=1, keepdims=True)) / np.maximum(
        raw.std(axis=1, keepdims=True), 1e-9
    )
    usual = _usual_affinity(catalog.popularity, affinity, config.taste_strength)
    n_bins = _n_bins(config)
    centres = (np.arange(n_bins) + 0.5) / n_bins * 2.0 - 1.0  # from -1 to +1 over the log
    logits = np.empty((n_bins, k, catalog.n_items))
    logits[:] = np.log(catalog.popularity) + config.taste_strength * affinity
    logits += (config.drift * TREND_SCALE * centres)[:, None, None] * catalog.trend
    weights = logits.reshape(n_bins * k, catalog.n_items)
    weights -= weights.max(axis=1, keepdims=True)
    np.exp(weights, out=weights)
    return World(
        catalog=catalog,
        affinity=affinity,
        usual_affinity=usual,
        table=StackedCdf.from_weights(weights),
        n_bins=n_bins,
        gender_effect=rng.normal(0.0, 1.0, (2, k)),
        age_effect=rng.normal(0.0, 1.0, (len(AGE_EDGES) + 1, k)),
        occupation_effect=rng.normal(0.0, 1.0, (len(OCCUPATIONS), k)),
        item_id_array=pa.array(catalog.item_ids, pa.large_string()),
        interaction_schema=pa.Schema.from_pandas(interactions_frame([], []), preserve_index=False),
    )


def _n_bins(config: SyntheticConfig) -> int:
    """Time bins for popularity drift, fewer for huge catalogs to bound memory."""
    if config.drift == 0:
        return 1
    fit = MAX_TABLE_CELLS // (config.latent_dim * config.n_items)
    return int(max(1, min(MAX_TIME_BINS, fit, config.days)))


def _usual_affinity(popularity: np.ndarray, affinity: np.ndarray, strength: float) -> np.ndarray:
    """Mean and spread of affinity over what each persona picks (ratings are relative)."""
    logits = np.log(popularity) + strength * affinity
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    mean = (weights * affinity).sum(axis=1)
    spread = np.sqrt((weights * (affinity - mean[:, None]) ** 2).sum(axis=1))
    return np.stack([mean, np.maximum(spread, 1e-6)])
