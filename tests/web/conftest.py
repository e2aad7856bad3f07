"""The site, its servers and the browser for the storefront and dashboard tests.

One site is built per test session (a few seconds of training on one thread). The
storefront server runs with writes open, as ``storex serve`` does by default; the dashboard
server runs on a copy of the site with an API key, so its rollback leaves the other alone.
Browser tests skip with the reason when Playwright or Debian's chromium is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.web.site import API_KEY, Site, build_site, shared_storex, stop_shared, storex_serve

if TYPE_CHECKING:
    from tests.web.browser import Tab


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    pytest.importorskip("jinja2", reason="the storefront needs the 'web' extra")
    return build_site(tmp_path_factory.getbasetemp() / "storex-site")


@pytest.fixture(scope="session")
def storefront(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of ``storex serve`` on the site (no API key: writes are open)."""
    log = tmp_path_factory.mktemp("logs") / "storefront.log"
    yield shared_storex(site, log)
    stop_shared()


@pytest.fixture(scope="session")
def admin_site(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Site:
    return site.copy(tmp_path_factory.mktemp("admin") / "site")


@pytest.fixture(scope="session")
def admin(admin_site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of ``storex serve`` on a copy of the site, with an API key."""
    log = tmp_path_factory.mktemp("logs") / "admin.log"
    with storex_serve(admin_site, log, api_key=API_KEY) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    pytest.importorskip("playwright.sync_api", reason="needs Playwright (dev extra)")
    from tests.web.browser import close_chromium, shared_chromium

    yield shared_chromium()
    close_chromium()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.web.browser import screenshot_dir

    return screenshot_dir(tmp_path_factory.getbasetemp())


@pytest.fixture
def tab(
    browser: Any, storefront: str, shots: Path, request: pytest.FixtureRequest
) -> Iterator[Tab]:
    """A desktop-sized tab on the storefront server."""
    from tests.web.browser import open_tab

    with open_tab(browser, storefront, shots, request.node.name) as opened:
        yield opened
