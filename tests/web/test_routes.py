"""The storefront's and dashboard's routes over HTTP on ``storex serve``: pages, headers,
errors, static files, report charts and the JSON routes the scripts read."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.web.site import Site, storex_serve

PAGES = ["/", "/register", "/catalog", "/catalog?q=tea", "/items/P00001", "/profile", "/dashboard"]


@pytest.fixture(scope="module")
def http(storefront: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=storefront, timeout=30) as client:
        yield client


@pytest.mark.parametrize("path", PAGES)
def test_pages_load_everything_from_their_own_origin(http: httpx.Client, path: str) -> None:
    page = http.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert not re.search(r"""(src|href|action)=["']?(https?:)?//""", page.text)
    for asset in re.findall(r'(?:src|href)="(/web/static/[^"]+)"', page.text):
        assert http.get(asset).status_code == 200, asset


def test_unknown_item_page_says_so(http: httpx.Client) -> None:
    page = http.get("/items/no-such-item")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Unknown item &#39;no-such-item&#39;" in page.text


def test_catalog_tolerates_odd_parameters(http: httpx.Client) -> None:
    first = http.get("/catalog", params={"page": "abc"})
    assert first.status_code == 200 and "page 1 of" in first.text
    long = http.get("/catalog", params={"q": "x" * 201})
    assert long.status_code == 200 and "Search text is too long: at most 200" in long.text
    beyond = http.get("/catalog", params={"page": 999})
    assert beyond.status_code == 200 and 'data-item="' not in beyond.text


def test_page_text_is_escaped(http: httpx.Client) -> None:
    page = http.get("/catalog", params={"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_static_files_and_nothing_else(http: httpx.Client) -> None:
    css = http.get("/web/static/storex.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    script = http.get("/web/static/storefront.js")
    assert script.headers["content-type"].startswith("text/javascript")
    for path in ("/web/static/%2e%2e/rendering.py", "/web/static/missing.js", "/web/static/"):
        answer = http.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["detail"].startswith("no static file")


def test_report_charts_of_the_model_in_service(http: httpx.Client, site: Site) -> None:
    chart = http.get("/web/report/training.png")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content == (site.bundle / "report" / "training.png").read_bytes()
    for name in ("report.json", "missing.png", "%2e%2e%2fbundle.json"):
        answer = http.get(f"/web/report/{name}")
        assert answer.status_code == 404, name


def test_ratings_with_titles(http: httpx.Client) -> None:
    user = http.post("/api/users", json={"age": 40}).json()["id"]
    items = http.get("/api/items", params={"limit": 2}).json()["items"]
    for item, value in zip(items, (5, 2), strict=True):
        made = http.post(
            "/api/ratings", json={"user_id": user, "item_id": item["id"], "rating": value}
        )
        assert made.status_code == 201, made.text
    page = http.get(f"/web/api/users/{user}/ratings").json()
    assert page["total"] == 2 and page["user_id"] == user
    assert {(r["item_id"], r["title"], r["rating"]) for r in page["ratings"]} == {
        (items[0]["id"], items[0]["title"], 5.0),
        (items[1]["id"], items[1]["title"], 2.0),
    }
    assert http.get(f"/web/api/users/{user}/ratings", params={"limit": 1}).json()["total"] == 2
    missing = http.get("/web/api/users/nobody-here/ratings")
    assert missing.status_code == 404 and missing.json() == {
        "detail": "unknown user id 'nobody-here'"
    }
    assert http.get(f"/web/api/users/{user}/ratings", params={"limit": 0}).status_code == 422


def test_live_figures_count_api_requests_but_not_themselves(http: httpx.Client) -> None:
    first = http.get("/web/api/live").json()
    second = http.get("/web/api/live").json()
    assert second["requests"] == first["requests"]
    http.get("/api/items", params={"limit": 1})
    http.get("/api/users/nobody-here")
    third = http.get("/web/api/live").json()
    assert third["requests"] == first["requests"] + 2
    assert third["errors"].get("404", 0) == first["errors"].get("404", 0) + 1
    assert third["model_loaded"] is True and third["at"] > first["at"]


def test_model_versions(http: httpx.Client, site: Site) -> None:
    models = http.get("/web/api/models").json()
    assert models["name"] == "graphsage"
    assert models["serving"] == models["current"] == site.version
    assert [v["version"] for v in models["versions"]] == [site.version, site.old_version]
    assert [(v["serving"], v["current"]) for v in models["versions"]] == [
        (True, True),
        (False, False),
    ]
    assert models["can_roll_back"] is True


def test_a_service_without_model_or_catalog_says_what_to_do(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("empty")
    empty = Site(folder, folder, "", "")
    with storex_serve(empty, folder / "server.log") as url, httpx.Client(base_url=url) as http:
        home = http.get("/")
        assert home.status_code == 200 and "The catalog is empty." in home.text
        dashboard = http.get("/dashboard")
        assert dashboard.status_code == 200 and "No model is loaded" in dashboard.text
        assert "Not evaluated: no model is loaded." in dashboard.text
        assert http.get("/web/api/models").json() == {
            "name": None,
            "serving": None,
            "current": None,
            "versions": [],
        }
        assert http.get("/web/api/live").json()["model_loaded"] is False
        assert http.get("/register").status_code == 200
        chart = http.get("/web/report/training.png")
        assert chart.status_code == 404
        assert chart.json() == {"detail": "no report chart 'training.png' for the model in service"}
