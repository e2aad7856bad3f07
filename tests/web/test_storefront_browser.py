"""The storefront in a real browser against ``storex serve`` on loopback: the shopper's
journey, item pages, browsing, error messages, layouts and labels."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

pytest.importorskip("playwright.sync_api", reason="needs Playwright (dev extra)")

from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from tests.web.browser import DESKTOP, TABLET, Tab, open_tab
from tests.web.site import API_KEY

PAGES = ["/", "/register", "/catalog", "/items/P00001", "/profile", "/dashboard"]
CAROUSEL_SIZE = 12
ITEM_IDS = "links => links.map(a => decodeURIComponent(a.pathname.split('/').pop()))"
UNKNOWN = "Unknown user “{}”. Check the id, or register as a new shopper."


def stars(n: int) -> str:
    return f"{n} star{'s' if n > 1 else ''}"


def click_stars(scope: Locator, n: int) -> None:
    """Click the n-th star of the first star widget in ``scope``, as a person does."""
    scope.locator("label").filter(has_text=stars(n)).first.click()


def recommended(page: Page) -> list[str]:
    """Item ids in the carousel once it has settled."""
    expect(page.locator("[data-carousel]")).not_to_have_attribute("aria-busy", "true")
    return page.locator("[data-carousel-track] [data-rec-item]").evaluate_all(
        "cards => cards.map(card => card.dataset.recItem)"
    )


def register(base: str, **demographics: object) -> str:
    answer = httpx.post(f"{base}/api/users", json=demographics, timeout=30)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def sign_in(page: Page, user: str) -> None:
    """Be ``user`` on every page of this tab (as the storefront remembers a shopper)."""
    page.add_init_script(f"localStorage.setItem('storex.user', {json.dumps(user)})")


def stored_ratings(base: str, user: str) -> dict[str, float]:
    page = httpx.get(f"{base}/api/users/{user}/ratings", timeout=30).json()
    return {r["item_id"]: r["rating"] for r in page["ratings"]}


def test_register_cold_start_rate_five_items_and_see_the_profile(tab: Tab, storefront: str) -> None:
    page = tab.page
    page.goto("/register")
    occupation = page.locator("#occupations option").first.get_attribute("value")
    assert occupation, "the registration form suggests the occupations the model knows"
    page.get_by_label("Age").fill("29")
    page.get_by_label("Gender").select_option("F")
    page.get_by_label("Occupation").fill(occupation)
    page.get_by_label("Zip code").fill("02139")
    tab.shot("register")
    page.get_by_role("button", name="Register").click()
    page.wait_for_url("**/?welcome=1")
    user = page.evaluate("localStorage.getItem('storex.user')")
    profile = httpx.get(f"{storefront}/api/users/{user}", timeout=30).json()
    assert (profile["age"], profile["gender"], profile["occupation"], profile["zip"]) == (
        29,
        "F",
        occupation,
        "02139",
    )
    expect(page.locator("[data-welcome]")).to_be_visible()
    expect(page.locator("header [data-user-name]")).to_have_text(user)

    carousel = page.locator("[data-carousel]")
    expect(carousel).to_have_attribute("data-strategy", "cold_start_features")
    expect(page.locator("[data-carousel-note]")).to_contain_text("Picked from your profile")
    cold = recommended(page)
    assert len(cold) == CAROUSEL_SIZE
    tab.shot("cold-start")

    page.goto("/catalog")
    cards = page.locator("[data-catalog] .item-card")
    given = {}
    for position, value in enumerate([5, 4, 5, 3, 5]):
        card = cards.nth(position)
        click_stars(card, value)
        expect(card.locator("[data-stars-status]")).to_have_text(f"Rated {stars(value)}.")
        expect(card.locator("label.lit")).to_have_count(value)
        given[card.get_attribute("data-item")] = float(value)
    assert stored_ratings(storefront, user) == given

    expect(carousel).to_have_attribute("data-strategy", "fold_in")
    expect(page.locator("[data-carousel-note]")).to_contain_text("latest ratings")
    warm = recommended(page)
    assert len(warm) == CAROUSEL_SIZE and warm != cold
    assert not set(warm) & set(given), "rated items are not recommended again"
    reasons = page.locator("[data-carousel-track] .because")
    expect(reasons.first).to_contain_text("Because you rated")
    because = reasons.locator("a").evaluate_all(ITEM_IDS)
    assert because and set(because) <= set(given), "every reason is an item the shopper rated"
    tab.shot("after-five-ratings")

    page.goto("/profile")
    rows = page.locator("[data-history-rows] tr")
    expect(rows).to_have_count(5)
    shown = {
        row.get_attribute("data-history-item"): float(row.locator("input:checked").input_value())
        for row in rows.all()
    }
    assert shown == given
    titles = [t.strip() for t in rows.locator("td:first-child a").all_inner_texts()]
    expected_titles = {
        item: httpx.get(f"{storefront}/api/items/{item}", timeout=30).json()["title"]
        for item in given
    }
    assert sorted(titles) == sorted(expected_titles.values())
    expect(page.locator("[data-profile-details]")).to_contain_text(occupation)
    tab.shot("profile")

    first = rows.first
    edited = str(first.get_attribute("data-history-item"))
    click_stars(first, 2)
    expect(first.locator("[data-stars-status]")).to_have_text(f"Rated {stars(2)}.")
    removed = rows.nth(1).get_attribute("data-history-item")
    rows.nth(1).get_by_role("button", name="Remove").click()
    expect(rows).to_have_count(4)
    after = stored_ratings(storefront, user)
    assert after[edited] == 2.0 and removed not in after and len(after) == 4
    tab.shot("profile-edited")
    tab.assert_clean()


def test_item_page_shows_similar_items_and_takes_a_rating(tab: Tab, storefront: str) -> None:
    user = register(storefront, age=41, gender="M")
    page = tab.page
    sign_in(page, user)
    item = httpx.get(f"{storefront}/api/items", params={"limit": 1}, timeout=30).json()["items"][0]
    similar = httpx.get(f"{storefront}/api/items/{item['id']}/similar", params={"n": 8}, timeout=30)
    page.goto(f"/items/{item['id']}")
    expect(page.locator("h1")).to_have_text(item["title"])
    links = page.locator("ol.similar a")
    shown = links.evaluate_all(
        "links => links.map(a => decodeURIComponent(a.pathname.split('/').pop()))"
    )
    assert shown == [s["id"] for s in similar.json()["items"]] and item["id"] not in shown

    click_stars(page.locator(".item-detail"), 4)
    expect(page.locator(".item-detail [data-stars-status]")).to_have_text(f"Rated {stars(4)}.")
    expect(page.locator("[data-carousel]")).to_have_attribute("data-strategy", "fold_in")
    assert stored_ratings(storefront, user) == {item["id"]: 4.0}
    tab.shot("item")

    links.first.click()
    expect(page.locator("h1")).to_have_text(similar.json()["items"][0]["title"])
    tab.assert_clean()


def test_catalog_search_categories_and_pages(tab: Tab, storefront: str) -> None:
    page = tab.page
    total = httpx.get(f"{storefront}/api/items", timeout=30).json()["total"]
    page.goto("/catalog")
    expect(page.locator(".result-count")).to_contain_text(f"{total} items")
    first_page = page.locator("[data-catalog] .item-card").first.get_attribute("data-item")
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url("**page=2")
    assert page.locator("[data-catalog] .item-card").first.get_attribute("data-item") != first_page

    page.get_by_label("Search the catalog").fill("tea")
    page.get_by_label("Search the catalog").press("Enter")
    page.wait_for_url("**q=tea**")
    found = httpx.get(f"{storefront}/api/items/search", params={"q": "tea"}, timeout=30).json()
    expect(page.locator(".result-count")).to_contain_text(f"{found['total']} item")
    texts = page.locator("[data-catalog] .item-card").all_inner_texts()
    assert texts and all("tea" in text.lower() for text in texts)
    tab.shot("search")

    chip = page.locator("[data-catalog] .item-card .chip").first
    category = chip.inner_text()
    chip.click()
    page.wait_for_url("**category=**")
    listed = httpx.get(f"{storefront}/api/items", params={"category": category}, timeout=30)
    expect(page.locator(".result-count")).to_contain_text(f"{listed.json()['total']} item")
    cards = page.locator("[data-catalog] .item-card")
    for card in cards.all():
        expect(card.locator(".chip", has_text=category).first).to_be_visible()

    page.goto("/catalog?q=no-such-product-anywhere")
    expect(page.locator(".result-count")).to_contain_text("No items match")
    tab.assert_clean()


def test_errors_are_told_in_plain_words(tab: Tab, storefront: str) -> None:
    page = tab.page
    page.goto("/")
    page.get_by_label("Already a shopper? Your user id").fill("nobody-here")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("[data-sign-in-form] [data-form-error]")).to_have_text(
        UNKNOWN.format("nobody-here")
    )
    card = page.locator(".item-card").first
    click_stars(card, 3)
    expect(card.locator("[data-stars-status]")).to_have_text("Register or sign in to rate items.")
    expect(card.locator("input:checked")).to_have_count(0)

    missing = page.goto("/items/no-such-item")
    assert missing is not None and missing.status == 404
    expect(page.get_by_role("alert").filter(has_text="Unknown item")).to_contain_text(
        "Unknown item 'no-such-item'"
    )

    sign_in(page, "gone-user")
    page.goto("/")
    status = page.locator("[data-carousel-status]")
    expect(status).to_have_text(
        "Unknown user “gone-user”. Check the id, or register as a new shopper."
    )
    tab.shot("unknown-user")

    user = register(storefront, age=30)
    sign_in(page, user)
    page.route("**/api/recommendations/**", lambda route: route.abort())
    page.goto("/")
    expect(status).to_contain_text("The StoreX service is unavailable right now")
    tab.shot("service-down")
    page.unroute("**/api/recommendations/**")
    page.route(
        "**/api/recommendations/**",
        lambda route: route.fulfill(status=503, json={"detail": "no model is loaded"}),
    )
    page.goto("/")
    expect(status).to_have_text("The StoreX service is unavailable: no model is loaded.")
    assert not tab.foreign and all("page error" not in e for e in tab.errors)


@pytest.mark.parametrize("viewport", [TABLET, DESKTOP], ids=["tablet", "desktop"])
def test_pages_fit_tablet_and_desktop_widths(
    browser: Browser,
    storefront: str,
    shots: Path,
    viewport: ViewportSize,
    request: pytest.FixtureRequest,
) -> None:
    user = register(storefront, age=52, gender="O")
    with open_tab(browser, storefront, shots, request.node.name, viewport) as tab:
        sign_in(tab.page, user)
        for path in PAGES:
            tab.page.goto(path)
            overflow = tab.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (
                f"{path} is {overflow}px wider than a {viewport['width']}px screen"
            )
            expect(tab.page.get_by_role("link", name="Catalog", exact=True)).to_be_visible()
            tab.shot(path.strip("/").replace("/", "-") or "home")
        tab.assert_clean()


UNNAMED_CONTROLS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll("input, select, textarea, button")) {
    const named = (el.labels && el.labels.length) || el.getAttribute("aria-label")
      || el.getAttribute("aria-labelledby") || (el.tagName === "BUTTON" && el.textContent.trim());
    if (!named) bad.push(el.outerHTML.slice(0, 160));
  }
  for (const img of document.querySelectorAll("img:not([alt]), img[alt='']")) {
    bad.push(img.outerHTML.slice(0, 160));
  }
  return bad;
}"""


def test_every_control_and_image_has_an_accessible_name(tab: Tab, storefront: str) -> None:
    user = register(storefront, age=23, gender="F")
    item = httpx.get(f"{storefront}/api/items", params={"limit": 1}, timeout=30).json()["items"][0]
    httpx.post(
        f"{storefront}/api/ratings", json={"user_id": user, "item_id": item["id"], "rating": 4}
    ).raise_for_status()
    page = tab.page
    sign_in(page, user)
    for path in PAGES:
        page.goto(path)
        if path == "/profile":
            expect(page.locator("[data-history-rows] tr")).to_have_count(1)
        assert page.evaluate(UNNAMED_CONTROLS) == [], path
        assert page.locator("html").get_attribute("lang") == "en"
        expect(page.locator("h1")).to_have_count(1)
        expect(page.get_by_role("main")).to_have_count(1)
    page.goto(f"/items/{item['id']}")
    expect(page.get_by_role("radio", name="4 stars")).to_be_checked()
    tab.assert_clean()


def test_a_service_with_a_key_asks_for_it_before_changes(
    browser: Browser, admin: str, shots: Path, request: pytest.FixtureRequest
) -> None:
    with open_tab(browser, admin, shots, request.node.name) as tab:
        page = tab.page
        page.goto("/register")
        page.get_by_label("Age").fill("45")
        page.get_by_role("button", name="Register").click()
        error = page.locator("[data-register-form] [data-form-error]")
        expect(error).to_have_text(
            "This service needs an API key for changes (missing X-API-Key header). "
            "Enter it under “Service key” at the bottom of the page."
        )
        tab.shot("key-needed")
        page.get_by_text("Service key", exact=True).click()
        page.get_by_label("API key for changes").fill(API_KEY)
        page.get_by_role("button", name="Use this key").click()
        expect(page.locator("[data-key-status]")).to_have_text("Key kept for this browser tab.")
        page.get_by_role("button", name="Register").click()
        page.wait_for_url("**/?welcome=1")
        user = page.evaluate("localStorage.getItem('storex.user')")
        assert httpx.get(f"{admin}/api/users/{user}", timeout=30).json()["age"] == 45
        tab.assert_clean()
