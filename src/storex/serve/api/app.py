"""The application factory: routes, error handlers, access log, metrics and CORS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

import storex
from storex.serve.api.errors import install_error_handlers
from storex.serve.api.middleware import AccessLogMiddleware
from storex.serve.api.routes import items, ratings, recommendations, system, users
from storex.serve.api.service import Service
from storex.serve.api.settings import ServeSettings


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """A ready application; the database and model are opened when it starts."""
    settings = settings or ServeSettings()
    service = Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.start)
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="StoreX recommendations",
        version=storex.__version__,
        lifespan=lifespan,
    )
    app.state.service = service
    for module in (users, ratings, recommendations, items, system):
        app.include_router(module.router)
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(AccessLogMiddleware, metrics=service.metrics)
    return app
