"""The dashboard in a real browser: the model's facts, its evaluation tables and curves,
examples, live figures that follow the traffic, and the rollback behind the API key.

The rollback test changes the version in service, so it comes last in this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

pytest.importorskip("playwright.sync_api", reason="needs Playwright (dev extra)")

from playwright.sync_api import Browser, expect

from tests.web.browser import Tab, open_tab
from tests.web.site import API_KEY, MODEL, Site

HEADLINE = ["precision@5", "precision@10", "recall@5", "recall@10", "ndcg@10"]


def serving(base: str) -> str:
    return str(httpx.get(f"{base}/api/health", timeout=30).json()["model_version"])


@pytest.fixture
def admin_tab(
    browser: Browser, admin: str, shots: Path, request: pytest.FixtureRequest
) -> Iterator[Tab]:
    with open_tab(browser, admin, shots, request.node.name) as opened:
        yield opened


def test_model_facts_evaluation_curves_and_examples(admin_tab: Tab, admin_site: Site) -> None:
    info, report = admin_site.info(), admin_site.report()
    page = admin_tab.page
    page.goto("/dashboard")

    facts = page.locator("[data-model-facts]")
    expect(facts.locator("[data-serving-version]")).to_have_text(admin_site.version)
    trained = datetime.fromisoformat(info["created"]).strftime("%Y-%m-%d %H:%M UTC")
    for text in (MODEL, trained, info["data_fingerprint"], "synthetic"):
        expect(facts).to_contain_text(text)
    page.locator("details.params summary").click()
    params = page.locator("details.params tbody tr")
    expect(params.filter(has_text="embedding_dim")).to_contain_text("16")
    expect(params.filter(has_text="train.lr")).to_contain_text("0.01")

    tables = page.locator("[data-metric-table=evaluation]")
    expect(tables).to_have_count(len(report["tables"]))
    for position, table in enumerate(report["tables"]):
        shown = tables.nth(position)
        expect(shown.locator("caption")).to_have_text(
            f"{table['split']} split, {table['protocol']} protocol"
        )
        expect(shown.locator("thead th")).to_have_text(["Model", *HEADLINE])
        rows = {row["model"]: row["metrics"] for row in table["rows"]}
        expect(shown.locator("tbody th")).to_have_text([MODEL, "Random", "MostPopular"])
        for line, model in enumerate([MODEL, "random", "most_popular"]):
            cells = shown.locator("tbody tr").nth(line).locator("td")
            expect(cells).to_have_text([f"{rows[model][c]:.4f}" for c in HEADLINE])

    cold = report.get("cold_start")
    if cold and cold.get("rows"):
        scenarios = list(dict.fromkeys(row["scenario"] for row in cold["rows"]))
        cold_tables = page.locator("[data-metric-table=cold-start]")
        expect(cold_tables).to_have_count(len(scenarios))
        expect(cold_tables.first.locator("tbody th").first).to_contain_text(MODEL)
    else:
        expect(page.locator("[data-cold-start]")).to_contain_text("not evaluated")

    charts = page.locator("[data-chart]")
    expect(charts).to_have_count(2)
    epochs = len(info["history"])
    loss = charts.first.locator("polyline")
    assert len(str(loss.get_attribute("points")).split()) == epochs
    expect(charts.nth(1).locator(".legend li")).to_contain_text(["ndcg@10"])
    pngs = sorted(p.name for p in (admin_site.bundle / "report").glob("*.png"))
    images = page.locator(".report-chart img")
    expect(images).to_have_count(len(pngs))
    for image in images.all():
        image.scroll_into_view_if_needed()
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0

    examples = page.locator("[data-example]")
    expect(examples).to_have_count(3)
    for example in examples.all():
        expect(example.locator("li")).to_have_count(5)
        assert example.locator(".badge").inner_text() in ("personalized", "fold_in")
    admin_tab.shot("dashboard")
    admin_tab.assert_clean()


def test_live_figures_follow_the_traffic(admin_tab: Tab, admin: str) -> None:
    page = admin_tab.page
    page.goto("/dashboard")
    expect(page.locator("[data-live-answers] tbody tr").first).to_be_visible()
    before = httpx.get(f"{admin}/web/api/live", timeout=30).json()
    with httpx.Client(base_url=admin, timeout=30) as client:
        answers = [  # one computed answer, then two from the cache
            client.get("/api/recommendations/U00002", params={"n": 5}).json() for _ in range(3)
        ]
        assert client.get("/api/users/nobody-at-all").status_code == 404
    strategy = answers[0]["strategy"]
    assert [a["cached"] for a in answers] == [False, True, True]
    expected = before["requests"] + 4
    expect(page.locator("[data-live-requests]")).to_have_text(f"{expected:,}", timeout=20_000)
    expect(page.locator("[data-live-rate]")).to_contain_text("req/s")
    expect(page.locator("[data-live-p50]")).to_contain_text(" ms")
    expect(page.locator("[data-live-cache]")).to_contain_text("%")
    expect(page.locator("[data-live-errors]")).to_contain_text("404")
    count = before["answers"].get(strategy, 0) + 3
    row = page.locator("[data-live-answers] tbody tr").filter(has_text=strategy)
    expect(row.locator("td")).to_have_text(f"{count:,}")
    routes = page.locator("[data-live-routes] tbody")
    expect(routes).to_contain_text("GET /api/recommendations/{user_id}")
    after = httpx.get(f"{admin}/web/api/live", timeout=30).json()
    assert after["cache"]["hits"] - before["cache"]["hits"] == 2
    admin_tab.shot("live")
    admin_tab.assert_clean()


def test_rollback_is_off_without_a_key(tab: Tab) -> None:
    page = tab.page
    page.goto("/dashboard")
    page.get_by_label("Administrator API key").fill("anything")
    page.get_by_role("button", name="Roll back to the previous version").click()
    expect(page.locator("[data-rollback-message]")).to_contain_text("Rollback is off")
    expect(page.locator("[data-rollback-message]")).to_contain_text("API_KEY")


def test_rollback_needs_the_key_and_serves_the_previous_version(
    admin_tab: Tab, admin: str, admin_site: Site
) -> None:
    page = admin_tab.page
    page.goto("/dashboard")
    rows = page.locator("[data-versions-rows] tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-version", admin_site.version)
    expect(rows.first).to_contain_text("serving, registry current")

    button = page.get_by_role("button", name="Roll back to the previous version")
    page.get_by_label("Administrator API key").fill("not-the-key")
    button.click()
    message = page.locator("[data-rollback-message]")
    expect(message).to_have_text("The API key was not accepted: wrong X-API-Key header")
    assert (
        httpx.get(f"{admin}/api/health", timeout=30).json()["model_version"] == admin_site.version
    )

    page.get_by_label("Administrator API key").fill(API_KEY)
    button.click()
    expect(message).to_contain_text(f"now serving {admin_site.old_version}")
    old = rows.filter(has_text=admin_site.old_version)
    expect(old).to_contain_text("serving, registry current")
    expect(button).to_be_disabled()
    assert serving(admin) == admin_site.old_version
    admin_tab.shot("rolled-back")
    admin_tab.assert_clean()
