"""Run the HTTP service with uvicorn: one process, or ``serve.workers`` processes on one port.

Several workers are uvicorn's own (``workers=`` with an app factory) rather than processes
of ours: uvicorn already shares the listening socket, restarts a worker that dies and stops
them all on a signal. Each worker is a whole service with its own engine; the database is
the truth and Redis carries live updates between them (:mod:`storex.serve.live`), so it is
required with more than one worker. Before the workers start, the parent migrates and fills
the database once. Workers read their settings from the parent, as JSON in
``STOREX_WORKER_SETTINGS``, so options given on the command line reach them too.

uvicorn picks its fastest parts when they are installed (``httptools`` for HTTP parsing,
``uvloop`` for the event loop) and falls back to pure-Python ``h11`` and ``asyncio``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from fastapi import FastAPI

from storex.config import Settings, load_settings
from storex.errors import ConfigError
from storex.serve.api import create_app
from storex.serve.api.middleware import access_log
from storex.serve.api.service import Service
from storex.serve.db import is_in_memory

KEEP_ALIVE_SECONDS = 75
WORKER_SETTINGS = "STOREX_WORKER_SETTINGS"


def run(settings: Settings | None = None) -> None:
    """Serve until interrupted; access logs go to stderr as one JSON line per request."""
    import uvicorn

    settings = settings or load_settings()
    configure_logging(settings.log_level)
    check_workers(settings)
    options: dict[str, Any] = {
        "host": settings.serve.host,
        "port": settings.serve.port,
        "log_level": settings.log_level.lower(),
        "access_log": False,  # ours is structured and carries the request id
        "log_config": None,
        # idle keep-alive connections outlive a loaded server's queueing, so a client never
        # sends on a connection the server is closing
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "server_header": False,  # no need to tell clients what runs here
    }
    if settings.serve.workers == 1:
        uvicorn.run(create_app(settings, freeze_heap=True), **options)
        return
    service = Service(settings)
    try:
        service.prepare_database()
    finally:
        service.close()
    os.environ[WORKER_SETTINGS] = settings_json(settings)
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=settings.serve.workers, **options)


def worker_app() -> FastAPI:
    """The application of one worker process, with the parent's settings."""
    settings = load_settings(**json.loads(os.environ[WORKER_SETTINGS]))
    configure_logging(settings.log_level)
    return create_app(settings, freeze_heap=True)


def check_workers(settings: Settings) -> None:
    """Refuse several workers that could not share live updates or a database."""
    serve = settings.serve
    if serve.workers == 1:
        return
    if not serve.redis_url:
        raise ConfigError(
            f"serve.workers is {serve.workers} but serve.redis_url is not set: several workers "
            "share live updates (new ratings, users, items) through Redis; set "
            "STOREX_SERVE__REDIS_URL=redis://host:6379/0 or run one worker"
        )
    if is_in_memory(serve.database_url):
        raise ConfigError(
            f"serve.workers is {serve.workers} but the database is in memory: each worker "
            "would have its own; use a SQLite file or PostgreSQL"
        )


def settings_json(settings: Settings) -> str:
    """``settings`` as JSON that :func:`load_settings` reads back whole, the API key too."""
    values = settings.model_dump(mode="json")
    key = settings.serve.api_key
    values["serve"]["api_key"] = None if key is None else key.get_secret_value()
    return json.dumps(values)


def configure_logging(level: str = "INFO") -> None:
    """Plain messages on stderr; access lines bare, so each one is a JSON document.

    Records skip the thread and process names no format here shows: an access line is
    written per request, and looking them up is a good part of its cost.
    """
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
    root.setLevel(level.upper())
    if not access_log.handlers:
        bare = logging.StreamHandler(sys.stderr)
        bare.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(bare)
        access_log.propagate = False
    access_log.setLevel(level.upper())
