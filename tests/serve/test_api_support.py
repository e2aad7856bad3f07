"""Helpers of the API tests (no tests here): a shop in the database, published bundles and
the real HTTP server, in a thread or in its own process.

The shop is the engine tests' checkerboard: users ``u0..u19``, items ``i0..i15`` (books
``i0..i7`` at 10..80, music ``i8..i15`` at 90..160, odd items out of stock).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from storex.config import Settings, load_settings
from storex.models.base import Recommender
from storex.serve.api import create_app
from storex.serve.db import Item, create_user, make_engine, make_session_factory
from storex.serve.engine import ModelRegistry
from storex.serve.server import KEEP_ALIVE_SECONDS
from tests.serve.test_engine import catalog, make_bundle

KEY = "test-key"
VERSIONS = ("20250101T000000Z", "20250201T000000Z")
ROOT = Path(__file__).resolve().parents[2]


def seed_shop(url: str) -> None:
    """Items i0..i15 and users u0..u19 (the bundle's ids) in a migrated database."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            for row in catalog().to_dict("records"):
                session.add(
                    Item(
                        external_id=row["item_id"],
                        title=row["title"],
                        categories=row["categories"],
                        price=row["price"],
                        in_stock=row["in_stock"],
                    )
                )
            for user in range(20):
                create_user(session, f"u{user}")
            session.commit()
    finally:
        engine.dispose()


def publish(root: Path, version: str, model: Recommender | None = None) -> str:
    """Publish a checkerboard bundle as ``version`` of model name ``shop`` under ``root``."""
    staging = root.parent / "staging" / version
    make_bundle(model, version).save(staging)
    return ModelRegistry(root, "shop").publish(staging)


def settings(url: str, models: Path, **serve: object) -> Settings:
    """Settings of a service on ``url`` and ``models`` with the write key (``serve`` adds)."""
    return load_settings(models_dir=models, serve={"database_url": url, "api_key": KEY, **serve})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(config: Settings) -> Iterator[httpx.Client]:
    """The app on a real uvicorn server in a thread; yields a client with the write key."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host="127.0.0.1",
            port=free_port(),
            log_level="warning",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": KEY}, timeout=30
    )
    try:
        yield client
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=10)


class ServerProcess:
    """``storex.serve.server.run`` in a child process, configured by environment (``env``
    adds variables; ``args`` are ``storex serve``'s options, run through the CLI)."""

    def __init__(
        self,
        url: str,
        models: Path,
        log: Path,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.args = args
        self.env = {
            **os.environ,
            "STOREX_SERVE__DATABASE_URL": url,
            "STOREX_MODELS_DIR": str(models),
            "STOREX_SERVE__API_KEY": KEY,
            "STOREX_SERVE__PORT": str(self.port),
            "STOREX_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT / "src"),
            **(env or {}),
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            command = ["-c", "from storex.serve.server import run; run()"]
            if self.args:
                command = ["-c", "from storex.cli import main; main()", "serve", *self.args]
            self.process = subprocess.Popen(
                [sys.executable, *command],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not answer within 60 s")

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it (every worker with it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
