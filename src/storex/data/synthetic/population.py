"""Synthetic shoppers: demographics, the personas they mix, how often they come.

Shoppers are made in fixed blocks, each from its own random stream, so block ``b`` is the
same whether the whole population is built at once or one block at a time while streaming.
Demographics set the Dirichlet prior of a shopper's persona mix: that is the signal a
cold-start model can use for a shopper with no history.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from storex.data.schema import conform_users

from .config import SyntheticConfig
from .sampling import categorical_rows
from .vocabulary import OCCUPATIONS
from .world import AGE_EDGES, World

TARGET_EVENTS_PER_BLOCK = 200_000
PERSONA_CONCENTRATION = 0.5  # Dirichlet total: a shopper mixes a few personas, not all
DEMOGRAPHIC_SCALE = 0.8
ACTIVITY_SIGMA = 1.0  # log-normal spread of how often shoppers come back
RETURNING_SHARE = 0.5  # shoppers already registered on the first day; others join later
_STUDENT, _RETIRED = OCCUPATIONS.index("student"), OCCUPATIONS.index("retired")
_REGION_WEIGHTS = np.array([6, 8, 7, 9, 6, 4, 5, 4, 6, 10], dtype=np.float64)


@dataclass(frozen=True)
class UserBlock:
    """Shoppers ``start .. start + len - 1`` with their hidden traits."""

    start: int
    table: pd.DataFrame  # canonical user rows
    user_ids: np.ndarray  # object array of str
    taste_start: np.ndarray  # (n, personas) persona mix at the start of the log
    taste_end: np.ndarray  # (n, personas) the mix they drift towards
    sessions: np.ndarray  # number of sessions per shopper (>= 1)
    first_day: np.ndarray  # day the shopper's first session can happen
    rating_bias: np.ndarray  # lenient or harsh rater


def users_per_block(config: SyntheticConfig) -> int:
    """Block size, fixed by the config alone (never by how the output is chunked)."""
    per_user = config.n_interactions / config.n_users
    return int(np.clip(TARGET_EVENTS_PER_BLOCK / per_user, 256, 65_536))


def n_blocks(config: SyntheticConfig) -> int:
    return -(-config.n_users // users_per_block(config))


def mean_sessions_per_user(config: SyntheticConfig) -> float:
    """Sessions per shopper that hit ``n_interactions`` on average."""
    p = 1.0 / config.views_per_session
    views = (1.0 - (1.0 - p) ** config.max_session_views) / p
    per_view = 1.0 + config.cart_prob * (1.0 + config.purchase_prob * (1.0 + config.rating_prob))
    return max(1.0, config.n_interactions / (config.n_users * views * per_view))


def iter_user_blocks(config: SyntheticConfig, world: World) -> Iterator[UserBlock]:
    for b in range(n_blocks(config)):
        yield user_block(config, world, b)


def user_block(config: SyntheticConfig, world: World, b: int) -> UserBlock:
    """Block ``b`` of the population, from its own random stream."""
    rng = np.random.default_rng([config.seed, 1, b])
    size = users_per_block(config)
    start = b * size
    n = min(size, config.n_users - start)
    if n <= 0:
        raise IndexError(f"user block {b} is past the last shopper")

    age = np.clip(np.rint(rng.normal(37.0, 13.0, n)), 16, 80)
    female = rng.random(n) < 0.5
    group = np.digitize(age, AGE_EDGES)
    occupation = categorical_rows(_occupation_odds(age), rng.random(n))
    region = categorical_rows(
        np.broadcast_to(_REGION_WEIGHTS / _REGION_WEIGHTS.sum(), (n, 10)), rng.random(n)
    )
    zips = [
        f"{r}{z:04d}"
        for r, z in zip(region.tolist(), rng.integers(0, 10_000, n).tolist(), strict=True)
    ]

    log_prior = (
        DEMOGRAPHIC_SCALE
        * config.demographic_strength
        * (
            world.gender_effect[(~female).astype(int)]
            + world.age_effect[group]
            + world.occupation_effect[occupation]
        )
    )
    prior = np.exp(log_prior - log_prior.max(axis=1, keepdims=True))
    prior *= PERSONA_CONCENTRATION / prior.sum(axis=1, keepdims=True)
    taste_start = _dirichlet(rng, prior)
    taste_end = _dirichlet(rng, prior)

    activity = rng.lognormal(0.0, ACTIVITY_SIGMA, n) / np.exp(ACTIVITY_SIGMA**2 / 2)
    sessions = 1 + rng.poisson((mean_sessions_per_user(config) - 1.0) * activity)
    first_day = np.where(rng.random(n) < RETURNING_SHARE, 0, rng.integers(0, config.days, n))
    width = max(5, len(str(config.n_users)))
    user_ids = np.array([f"U{start + i + 1:0{width}d}" for i in range(n)], dtype=object)
    table = conform_users(
        pd.DataFrame(
            {
                "user_id": user_ids,
                "age": age,
                "gender": np.where(female, "F", "M"),
                "occupation": np.array(OCCUPATIONS, dtype=object)[occupation],
                "zip": zips,
            }
        )
    )
    return UserBlock(
        start=start,
        table=table,
        user_ids=user_ids,
        taste_start=taste_start,
        taste_end=taste_end,
        sessions=sessions,
        first_day=first_day,
        rating_bias=rng.normal(0.0, 0.4, n),
    )


def build_users(config: SyntheticConfig, world: World) -> pd.DataFrame:
    """The whole user table (one row per shopper, in id order)."""
    return pd.concat([blk.table for blk in iter_user_blocks(config, world)], ignore_index=True)


def _occupation_odds(age: np.ndarray) -> np.ndarray:
    """Occupation probabilities per shopper: students are young, the retired are not."""
    odds = np.ones((len(age), len(OCCUPATIONS)))
    odds[:, _STUDENT] = np.select([age < 23, age < 30], [8.0, 1.0], 0.05)
    odds[:, _RETIRED] = np.select([age >= 65, age >= 58], [12.0, 2.0], 0.0)
    return odds / odds.sum(axis=1, keepdims=True)


def _dirichlet(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    draws = rng.gamma(alpha)
    total = draws.sum(axis=1, keepdims=True)
    draws = np.where(total > 0, draws / np.where(total > 0, total, 1.0), 1.0 / alpha.shape[1])
    return draws
