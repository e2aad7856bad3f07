"""Run the HTTP service with uvicorn (one process: the engine's live state is in memory)."""

from __future__ import annotations

import logging
import sys

from storex.serve.api import ServeSettings, create_app

KEEP_ALIVE_SECONDS = 75


def run(settings: ServeSettings | None = None) -> None:
    """Serve until interrupted; access logs go to stderr as one JSON line per request."""
    import uvicorn

    settings = settings or ServeSettings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,  # ours is structured and carries the request id
        log_config=None,
        # idle keep-alive connections outlive a loaded server's queueing, so a client never
        # sends on a connection the server is closing
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


def configure_logging(level: str = "INFO") -> None:
    """Plain messages on stderr; the access log lines are already JSON."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
    root.setLevel(level.upper())
