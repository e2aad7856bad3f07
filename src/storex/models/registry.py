"""Model names to classes: how ``Recommender.load`` and the CLI find a model by name."""

from __future__ import annotations

from storex.errors import ConfigError

_REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make a Recommender loadable and selectable by its ``name``."""
    name = cls.name  # type: ignore[attr-defined]
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ConfigError(f"two models share the name {name!r}")
    _REGISTRY[name] = cls
    return cls


def model_class(name: str) -> type:
    import storex.models  # noqa: F401  (registers every built-in model)

    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known: {sorted(_REGISTRY)}") from None


def model_names() -> list[str]:
    import storex.models  # noqa: F401

    return sorted(_REGISTRY)
