"""The serving engine: recommendations, live updates, caching and model versions.

Library code only; the HTTP API wraps :class:`RecommendationEngine` (through an
:class:`EngineHolder` for hot swaps of model versions from a :class:`ModelRegistry`).
"""

from storex.serve.engine.cache import LRUCache, RecommendationCache, RedisCache
from storex.serve.engine.engine import LiveLog, RecommendationEngine, UnknownIdError
from storex.serve.engine.holder import EngineHolder
from storex.serve.engine.policy import ExcludeSeen, ExclusionPolicy, RepeatAfter, is_positive
from storex.serve.engine.registry import ModelRegistry
from storex.serve.engine.results import Explanation, Recommendations, ScoredItem

__all__ = [
    "EngineHolder",
    "ExcludeSeen",
    "ExclusionPolicy",
    "Explanation",
    "LRUCache",
    "LiveLog",
    "ModelRegistry",
    "RecommendationCache",
    "RecommendationEngine",
    "Recommendations",
    "RedisCache",
    "RepeatAfter",
    "ScoredItem",
    "UnknownIdError",
    "is_positive",
]
