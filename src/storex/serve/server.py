"""Run the HTTP service with uvicorn (one process: the engine's live state is in memory).

uvicorn picks its fastest parts when they are installed (``httptools`` for HTTP parsing,
``uvloop`` for the event loop) and falls back to pure-Python ``h11`` and ``asyncio``.
"""

from __future__ import annotations

import logging
import sys

from storex.config import Settings, load_settings
from storex.serve.api import create_app
from storex.serve.api.middleware import access_log

KEEP_ALIVE_SECONDS = 75


def run(settings: Settings | None = None) -> None:
    """Serve until interrupted; access logs go to stderr as one JSON line per request."""
    import uvicorn

    settings = settings or load_settings()
    configure_logging(settings.log_level)
    app = create_app(settings, freeze_heap=True)
    uvicorn.run(
        app,
        host=settings.serve.host,
        port=settings.serve.port,
        log_level=settings.log_level.lower(),
        access_log=False,  # ours is structured and carries the request id
        log_config=None,
        # idle keep-alive connections outlive a loaded server's queueing, so a client never
        # sends on a connection the server is closing
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        server_header=False,  # no need to tell clients what runs here
    )


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
