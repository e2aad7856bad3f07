"""A small StoreX site for the browser and Django tests (helpers only, no tests here).

A seeded synthetic store (300 shoppers, 200 products), a GraphSAGE bundle trained on it
with its report (beside Random and MostPopular), published twice so that a rollback has
somewhere to go, and the store's catalog and ratings in a SQLite database. The folder holds
``models/`` and ``storex.db``, the defaults of ``storex serve``, which the tests start with
no argument but ``--port``, as a person would.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import torch

from storex.config import load_settings
from storex.data.synthetic import SyntheticConfig, write_store
from storex.evaluate.report import BASELINES
from storex.experiment import build_model, save_bundle, train_and_evaluate
from storex.models.data import InteractionData
from storex.pipeline import prepare
from storex.serve.db import init_database
from storex.serve.engine import ModelRegistry

STORE = SyntheticConfig(n_users=300, n_items=200, n_interactions=8_000, seed=7)
MODEL = "graphsage"
SETTINGS = {
    "embedding_dim": 16,
    "num_layers": 2,
    "train": {"epochs": 6, "eval_every": 2, "batch_size": 512, "lr": 0.01, "extra": {"threads": 1}},
}
OLD_VERSION = "20250101T000000Z"
API_KEY = "web-test-key"
START_SECONDS = 120


@dataclass(frozen=True)
class Site:
    root: Path  # models/ and storex.db: what `storex serve` reads by default
    store: Path  # the synthetic store's Parquet files (the catalog)
    version: str  # the newest version, current in the registry
    old_version: str

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def bundle(self) -> Path:
        return self.models / MODEL / self.version

    def report(self) -> dict:
        return json.loads((self.bundle / "report" / "report.json").read_text())

    def info(self) -> dict:
        return json.loads((self.bundle / "bundle.json").read_text())

    def copy(self, folder: Path) -> Site:
        """The same site in ``folder`` (models and database copied)."""
        shutil.copytree(self.root, folder)
        return Site(folder, self.store, self.version, self.old_version)


@functools.cache
def build_site(folder: Path) -> Site:
    """Build the site once per process in ``folder`` (later calls return the first)."""
    torch.set_num_threads(1)
    store, artifacts, staging = folder / "store", folder / "artifacts", folder / "staging"
    root = folder / "site"
    write_store(STORE, store)
    prepare(store, artifacts, load_settings())
    data = InteractionData.from_artifacts(artifacts)
    result = train_and_evaluate(build_model(MODEL, SETTINGS), data)
    baselines = [train_and_evaluate(build_model(name, {}), data) for name in BASELINES]
    bundle = save_bundle(result, data, artifacts, staging, dataset="synthetic", baselines=baselines)
    assert bundle.path is not None
    old = staging / "old"
    shutil.copytree(bundle.path, old)
    info = json.loads((old / "bundle.json").read_text())
    (old / "bundle.json").write_text(json.dumps({**info, "version": OLD_VERSION}))
    registry = ModelRegistry(root / "models", MODEL)
    registry.publish(old)
    version = registry.publish(bundle.path)
    init_database(f"sqlite:///{root / 'storex.db'}", source=store, with_history=True)
    return Site(root, store, version, OLD_VERSION)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def storex_serve(site: Site, log: Path, *, api_key: str | None = None) -> Iterator[str]:
    """``storex serve --port N`` in the site's folder; yields its base URL."""
    process, url = start_storex(site, log, api_key=api_key)
    try:
        yield url
    finally:
        stop(process)


_SHARED: dict[Path, tuple[subprocess.Popen[bytes], str]] = {}


def shared_storex(site: Site, log: Path) -> str:
    """One ``storex serve`` (no API key) per site folder and process, for every test folder
    that needs it; :func:`stop_shared` ends them."""
    if site.root not in _SHARED or _SHARED[site.root][0].poll() is not None:
        _SHARED[site.root] = start_storex(site, log)
    return _SHARED[site.root][1]


def stop_shared() -> None:
    while _SHARED:
        _, (process, _) = _SHARED.popitem()
        stop(process)


def start_storex(
    site: Site, log: Path, *, api_key: str | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREX_")}
    env |= {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "STOREX_LOG_LEVEL": "WARNING"}
    if api_key is not None:
        env["STOREX_SERVE__API_KEY"] = api_key
    script = Path(sys.executable).with_name("storex")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "storex.cli"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, "serve", "--port", str(port)],
            cwd=site.root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url, log)
    except BaseException:
        stop(process)
        raise
    return process, url


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no answer from {url} within {START_SECONDS} s: {log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
