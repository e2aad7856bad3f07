"""A synthetic online store: the default data set when no real data is present.

The story behind the numbers: a catalog of products in a two-level category tree, sold by
brands with price tiers; shoppers whose age, gender and occupation lean them towards a few
latent personas; sessions of related product views at realistic times of day; carts,
purchases and later ratings driven by taste, quality and price. ``taste_strength`` sets
how much there is to learn beyond popularity. Everything is a pure function of
:class:`SyntheticConfig` (including its seed).
"""

from .config import SyntheticConfig
from .store import generate_store, iter_interaction_chunks, write_store

__all__ = ["SyntheticConfig", "generate_store", "iter_interaction_chunks", "write_store"]
