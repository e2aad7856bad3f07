"""The example Django shop, run with its README command, in a real browser.

The shop serves the site's bundle from disk (as after ``make demo``) with the site's store
as its products; the "Recommended for You" block must fill itself with the same items the
app's JSON view gives, titled and linked by the shop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("playwright.sync_api", reason="needs Playwright (dev extra)")

from playwright.sync_api import Browser, expect

from tests.web.browser import close_chromium, open_tab, screenshot_dir, shared_chromium
from tests.web.site import Site, free_port, stop

ROOT = Path(__file__).resolve().parents[2]
MANAGE = ROOT / "examples" / "django_shop" / "manage.py"
START_SECONDS = 60


@pytest.fixture(scope="module")
def shop(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python examples/django_shop/manage.py runserver`` on the site's bundle and store."""
    port = free_port()
    log = tmp_path_factory.mktemp("logs") / "django-shop.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STOREX_", "SHOP_"))}
    env |= {
        "SHOP_STOREX_BUNDLE": str(site.models),
        "SHOP_CATALOG": str(site.store),
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"]
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the example shop did not start: {log.read_text()[-3000:]}")
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    yield shared_chromium()
    close_chromium()


def test_the_block_recommends_with_the_shops_titles_and_links(
    browser: Browser, shop: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shots = screenshot_dir(tmp_path_factory.getbasetemp())
    with open_tab(browser, shop, shots, "example-shop") as tab:
        page = tab.page
        page.goto("/")
        shopper = page.get_by_label("Shopping as").input_value()
        block = page.locator(".storex-recommendations")
        expect(block.get_by_role("heading")).to_have_text("Recommended for You")
        expect(block).to_have_attribute("data-storex-loaded", "done", timeout=60_000)
        expected = httpx.get(f"{shop}/recommend/{shopper}/", timeout=60).json()
        assert expected["source"] == "bundle" and len(expected["items"]) == 6
        links = block.locator(".storex-title")
        expect(links).to_have_text([item["title"] for item in expected["items"]])
        hrefs = links.evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert hrefs == [f"/products/{item['id']}/" for item in expected["items"]]
        assert block.get_attribute("data-storex-strategy") == expected["strategy"]
        expect(page.locator(".product")).to_have_count(24)
        tab.shot("products")

        page.get_by_label("Shopping as").select_option(index=1)
        page.get_by_role("button", name="Switch").click()
        expect(block).to_have_attribute("data-storex-loaded", "done")
        other = page.get_by_label("Shopping as").input_value()
        assert other != shopper
        second = httpx.get(f"{shop}/recommend/{other}/", timeout=60).json()
        expect(links).to_have_text([item["title"] for item in second["items"]])

        title = links.first.inner_text()
        links.first.click()
        expect(page.locator("h1")).to_have_text(title)
        expect(page.locator(".storex-recommendations h2")).to_have_text("You may also like")
        expect(page.locator(".storex-recommendations")).to_have_attribute(
            "data-storex-loaded", "done"
        )
        tab.shot("product")

        page.get_by_label("Shopping as").select_option("")
        page.get_by_role("button", name="Switch").click()
        expect(block).to_contain_text("Sign in to see recommendations picked for you.")
        tab.assert_clean()
