"""The HTTP API of the recommendation service (FastAPI) over the storage and the engine."""

from storex.serve.api.app import create_app

__all__ = ["create_app"]
