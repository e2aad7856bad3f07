"""The application factory: routes, error handlers, access log, metrics and CORS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

import storex
from storex.config import Settings, load_settings
from storex.serve import web
from storex.serve.api.errors import install_error_handlers
from storex.serve.api.middleware import AccessLogMiddleware
from storex.serve.api.routes import items, ratings, recommendations, sessions, system, users
from storex.serve.api.schemas import ERROR_RESPONSES
from storex.serve.api.service import Service


def create_app(settings: Settings | None = None, *, freeze_heap: bool = False) -> FastAPI:
    """A ready application; the database and model are opened when it starts.

    ``settings`` defaults to the process settings (:func:`storex.config.load_settings`);
    the service reads their ``serve`` section, ``models_dir`` and ``data_dir``.
    The session model (``serve.session_model_dir``) is loaded with the rest and placed in
    ``app.state.session_recommender``. ``freeze_heap`` is for a process that serves this app
    alone (see :meth:`Service._settle_heap`).
    """
    settings = settings or load_settings()
    service = Service(settings, freeze_heap=freeze_heap)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.start)
        app.state.session_recommender = service.session_recommender  # what /recommend reads
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
    # the busiest routes first: a request is matched against the routes in this order
    for module in (recommendations, ratings, users, items, system, sessions):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    app.include_router(web.router)  # the storefront at / and the dashboard at /dashboard
    install_error_handlers(app)
    if settings.serve.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.serve.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(AccessLogMiddleware, metrics=service.metrics)
    return app
