"""StoreX: graph-neural-network recommendations for online stores."""

from storex.errors import (
    ConfigError,
    DataError,
    EmptyDataError,
    MissingDataError,
    ModelError,
    NotFittedError,
    StorexError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "EmptyDataError",
    "MissingDataError",
    "ModelError",
    "NotFittedError",
    "StorexError",
    "__version__",
]
