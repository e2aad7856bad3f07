"""Headless Debian chromium through Playwright, for the browser tests (helpers only).

Every tab records what a person would notice: script errors, console errors and any
request to another origin (the pages must load everything from the service itself).
Screenshots go to ``STOREX_TEST_SCREENSHOTS`` when set, else ``screenshots/`` under pytest's
base temporary folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    ViewportSize,
    sync_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT_ENV = "STOREX_TEST_SCREENSHOTS"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
TABLET: ViewportSize = {"width": 768, "height": 1024}


_SHARED: list[tuple[Playwright, Browser]] = []


def shared_chromium() -> Browser:
    """Debian's chromium, headless, one per process (Playwright's sync API allows one
    driver per thread, and every test folder needs the browser); skips when it is absent.
    :func:`close_chromium` ends it."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium with `make browser`")
    if not _SHARED:
        playwright = sync_playwright().start()
        _SHARED.append((playwright, playwright.chromium.launch(executable_path=str(CHROMIUM))))
    return _SHARED[0][1]


def close_chromium() -> None:
    while _SHARED:
        playwright, browser = _SHARED.pop()
        browser.close()
        playwright.stop()


def screenshot_dir(basetemp: Path) -> Path:
    folder = Path(os.environ.get(SCREENSHOT_ENV) or basetemp / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Tab:
    """A page plus what it did wrong, and a screenshot helper named after the test."""

    def __init__(self, page: Page, origins: set[str], shots: Path, test: str) -> None:
        self.page = page
        self.origins = origins
        self.shots = shots
        self.test = re.sub(r"[^A-Za-z0-9_.-]+", "-", test).strip("-")
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("console", self._console)
        page.on("request", self._request)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{self.test}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_clean(self) -> None:
        """No script error and no request left the allowed origins."""
        assert not self.errors, self.errors
        assert not self.foreign, f"requests to other origins: {self.foreign}"

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            text = message.text
            # a failed fetch is the page's to report (the tests check what it shows)
            if not text.startswith("Failed to load resource"):
                self.errors.append(f"console: {text}")

    def _request(self, request: Request) -> None:
        url = request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if f"{parts.scheme}://{parts.netloc}" not in self.origins:
            self.foreign.append(url)


@contextmanager
def open_tab(
    browser: Browser, base_url: str, shots: Path, test: str, viewport: ViewportSize = DESKTOP
) -> Iterator[Tab]:
    context = browser.new_context(base_url=base_url, viewport=viewport)
    context.set_default_timeout(20_000)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
    try:
        yield Tab(context.new_page(), {origin}, shots, test)
    finally:
        context.close()
