"""The knobs of the synthetic store, checked once when the config is made."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, fields

from storex.errors import ConfigError

from .vocabulary import CATEGORY_TREE

MAX_BRANDS = 1_000  # well under the distinct names the brand syllables can make

MAX_TOP_CATEGORIES = len(CATEGORY_TREE)
MAX_SUBCATEGORIES = min(len(top.leaves) for top in CATEGORY_TREE)

_PROBABILITIES = ("drift", "session_locality", "cart_prob", "purchase_prob", "rating_prob")
_NON_NEGATIVE = ("taste_strength", "demographic_strength", "popularity_exponent", "rating_noise")


@dataclass(frozen=True)
class SyntheticConfig:
    """How big the synthetic store is and how its shoppers behave.

    The defaults make a demo store that a model trains on in seconds. ``taste_strength`` is
    the knob that decides how much a personalised model can beat popularity: at 0 every
    shopper follows the same popularity curve (sessions still stay on topic), and larger
    values make each shopper's latent tastes dominate what they browse.

    Attributes
    ----------
    n_users, n_items : int
        Shoppers and catalog size.
    n_interactions : int
        Target number of events (views, carts, purchases, ratings); the result is close to
        it, not exact, because sessions and conversions are random.
    n_top_categories, n_subcategories : int
        Shape of the category tree: top level (e.g. "Electronics") and leaves under each
        (e.g. "Headphones"); at most 10 and 6.
    n_brands : int
        Brands; each sells in one or two top categories.
    latent_dim : int
        Number of latent taste factors ("personas"); a shopper mixes a few of them.
    taste_strength : float
        How strongly personas pull choices away from global popularity (0 = none).
    demographic_strength : float
        How strongly age, gender and occupation shape which personas a shopper mixes.
    popularity_exponent : float
        Zipf exponent of item popularity (0 = flat).
    drift : float
        In [0, 1]: how much item popularity trends and shopper tastes shift over ``days``.
    days : int
        Length of the event log; ``start_date`` is its first day (ISO ``YYYY-MM-DD``, UTC).
    views_per_session : float
        Mean product views in a session (geometric lengths, capped at ``max_session_views``).
    session_locality : float
        Chance that the next view is related to the current one (a companion product, the
        same subcategory or the same top category) rather than a fresh pick.
    cart_prob, purchase_prob, rating_prob : float
        Mean chance a view is added to the cart, a carted item is bought, and a bought item
        is rated later (ratings are 1..5, from affinity, item quality and ``rating_noise``).
    seed : int
        Everything is a function of the config: the same config gives the same store.
    """

    n_users: int = 1_000
    n_items: int = 600
    n_interactions: int = 40_000
    n_top_categories: int = 8
    n_subcategories: int = 5
    n_brands: int = 40
    latent_dim: int = 16
    taste_strength: float = 3.0
    demographic_strength: float = 1.0
    popularity_exponent: float = 0.8
    drift: float = 0.3
    days: int = 90
    start_date: str = "2024-01-01"
    views_per_session: float = 5.0
    max_session_views: int = 50
    session_locality: float = 0.8
    cart_prob: float = 0.15
    purchase_prob: float = 0.4
    rating_prob: float = 0.6
    rating_noise: float = 0.5
    seed: int = 42

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                _fail(f.name, "must be an integer", value)
            if f.type == "float" and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                _fail(f.name, "must be a finite number", value)
        for name in ("n_users", "n_items", "n_brands", "latent_dim", "days", "max_session_views"):
            if getattr(self, name) < 1:
                _fail(name, "must be >= 1", getattr(self, name))
        if not 1 <= self.n_top_categories <= MAX_TOP_CATEGORIES:
            _fail("n_top_categories", f"must be in 1..{MAX_TOP_CATEGORIES}", self.n_top_categories)
        if not 1 <= self.n_subcategories <= MAX_SUBCATEGORIES:
            _fail("n_subcategories", f"must be in 1..{MAX_SUBCATEGORIES}", self.n_subcategories)
        if self.n_items < self.n_leaves:
            _fail("n_items", f"must be >= the {self.n_leaves} leaf categories", self.n_items)
        if self.n_brands > MAX_BRANDS:
            _fail("n_brands", f"must be <= {MAX_BRANDS}", self.n_brands)
        if self.n_brands < self.n_top_categories:
            _fail(
                "n_brands",
                "must be >= n_top_categories (every category needs a brand)",
                self.n_brands,
            )
        if self.n_interactions < self.n_users:
            _fail(
                "n_interactions",
                "must be >= n_users (every shopper has a session)",
                self.n_interactions,
            )
        if not 1.0 <= self.views_per_session <= self.max_session_views:
            _fail("views_per_session", "must be in 1..max_session_views", self.views_per_session)
        for name in _PROBABILITIES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                _fail(name, "must be in [0, 1]", getattr(self, name))
        for name in _NON_NEGATIVE:
            if getattr(self, name) < 0:
                _fail(name, "must be >= 0", getattr(self, name))
        try:
            dt.date.fromisoformat(self.start_date)
        except (TypeError, ValueError):
            _fail("start_date", "must be an ISO date YYYY-MM-DD", self.start_date)

    @property
    def n_leaves(self) -> int:
        return self.n_top_categories * self.n_subcategories

    @property
    def start_seconds(self) -> float:
        """Epoch seconds of ``start_date`` at midnight UTC."""
        day = dt.date.fromisoformat(self.start_date)
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def _fail(name: str, expected: str, value: object) -> None:
    raise ConfigError(f"SyntheticConfig.{name} {expected}, got {value!r}")
