"""The HTTP API of the recommendation service (FastAPI) over the storage and the engine."""

from storex.serve.api.app import create_app
from storex.serve.api.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]
