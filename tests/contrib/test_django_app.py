"""The Django app with Django's test client: the JSON view on a bundle on disk and on a
running StoreX service, the shop's own item details, errors, the block's tag and the checks.

The bundle is the checkerboard (users ``u0..u9`` like items ``i0..i7``, ``u10..u19`` items
``i8..i15``), fitted with EASE, so the right answer is known.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from storex.bundle import ModelBundle, describe
from storex.contrib.django.conf import storex_settings
from storex.idmap import IdMap
from storex.models.baselines import EASE
from storex.serve.engine import ModelRegistry, RecommendationEngine
from tests.models.contract_models import checkerboard

BOOKS = {f"i{i}" for i in range(8)}
MUSIC = {f"i{i}" for i in range(8, 16)}


def make_bundle(folder: Path, version: str, l2: float = 1.0) -> Path:
    data = checkerboard()
    model = EASE(l2=l2).fit(data)
    users = IdMap(f"u{i}" for i in range(data.num_users))
    items = IdMap(f"i{i}" for i in range(data.num_items))
    info = describe(model, version=version, metrics={}, fingerprint="checkerboard")
    return ModelBundle(model, data, users, items, info).save(folder)


def seen(user: int) -> set[str]:
    data = checkerboard()
    return {f"i{i}" for i in data.train[1][data.train[0] == user].tolist()}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("bundle") / "v1", "v1")


@pytest.fixture
def client() -> Client:
    return Client()


def test_a_bundle_on_disk_answers_as_the_engine_does(client: Client, bundle: Path) -> None:
    with override_settings(STOREX={"BUNDLE": str(bundle)}):
        answer = client.get("/recommend/u3/", {"n": 4})
    assert answer.status_code == 200 and answer["Cache-Control"] == "private, no-store"
    body = answer.json()
    expected = RecommendationEngine(ModelBundle.load(bundle)).recommend("u3", 4, explain=True)
    assert [item["id"] for item in body["items"]] == expected.item_ids
    assert set(expected.item_ids[:2]) == BOOKS - seen(3)  # its two unseen books come first
    assert body["source"] == "bundle" and body["strategy"] == "personalized"
    assert body["model_version"] == "v1" and body["user_id"] == "u3"
    reasons = {b["item_id"] for item in body["items"] for b in item["because"]}
    assert reasons and reasons <= seen(3)


def test_the_count_defaults_to_the_setting_and_is_checked(client: Client, bundle: Path) -> None:
    with override_settings(STOREX={"BUNDLE": str(bundle), "COUNT": 3}):
        assert len(client.get("/recommend/u12/").json()["items"]) == 3
        for bad in ("0", "101", "three", "-1"):
            answer = client.get("/recommend/u12/", {"n": bad})
            assert answer.status_code == 400
            assert answer.json() == {
                "detail": f"n must be a whole number from 1 to 100, got {bad!r}"
            }
        assert client.post("/recommend/u12/").status_code == 405


def test_a_registry_root_serves_its_current_version(client: Client, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models", "shop")
    for version in ("20250101T000000Z", "20250201T000000Z"):
        registry.publish(make_bundle(tmp_path / "staging" / version, version))
    with override_settings(STOREX={"BUNDLE": str(tmp_path / "models")}):
        assert client.get("/recommend/u1/").json()["model_version"] == "20250201T000000Z"
    registry.set_current("20250101T000000Z")
    with override_settings(STOREX={"BUNDLE": str(tmp_path / "models"), "COUNT": 5}):
        assert client.get("/recommend/u1/").json()["model_version"] == "20250101T000000Z"


def test_the_shop_fills_titles_links_and_prices(client: Client, bundle: Path) -> None:
    config = {"BUNDLE": str(bundle), "ITEMS": "tests.contrib.catalog.lookup"}
    with override_settings(STOREX=config):
        body = client.get("/recommend/u14/", {"n": 2}).json()
    for item in body["items"]:
        number = int(item["id"][1:])
        assert item["title"] == f"Product {number}" and item["url"] == f"/products/{item['id']}/"
        assert item["price"] == 10.0 * number and item["id"] in MUSIC
        assert all(b["title"] == f"Product {b['item_id'][1:]}" for b in item["because"])


def test_a_user_the_bundle_does_not_know_gets_popular_items(client: Client, bundle: Path) -> None:
    with override_settings(STOREX={"BUNDLE": str(bundle)}):
        body = client.get("/recommend/somebody-new/", {"n": 5}).json()
    assert body["strategy"] == "popularity" and len(body["items"]) == 5


def test_a_missing_bundle_is_a_503_naming_the_path(client: Client, tmp_path: Path) -> None:
    with override_settings(STOREX={"BUNDLE": str(tmp_path / "nothing-here")}):
        answer = client.get("/recommend/u1/")
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith(
        f"cannot load the StoreX bundle at {tmp_path / 'nothing-here'}"
    )


def test_a_running_service_answers_through_the_view(client: Client, storex_url: str) -> None:
    direct = httpx.get(
        f"{storex_url}/api/recommendations/U00004", params={"n": 5, "explain": True}, timeout=30
    ).json()
    with override_settings(STOREX={"URL": storex_url + "/"}):
        answer = client.get("/recommend/U00004/", {"n": 5})
        unknown = client.get("/recommend/nobody-at-all/")
    body = answer.json()
    assert answer.status_code == 200 and body["source"] == "service"
    assert [i["id"] for i in body["items"]] == [i["id"] for i in direct["items"]]
    assert [i["title"] for i in body["items"]] == [i["title"] for i in direct["items"]]
    assert body["strategy"] == direct["strategy"]
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == (
        "StoreX does not know user 'nobody-at-all' (unknown user id 'nobody-at-all')"
    )


def test_a_service_that_does_not_answer_is_a_503(client: Client) -> None:
    with override_settings(STOREX={"URL": "http://127.0.0.1:9", "TIMEOUT": 2}):
        answer = client.get("/recommend/u1/")
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith(
        "the StoreX service at http://127.0.0.1:9 is unavailable"
    )


def test_the_block_loads_itself_from_the_view(client: Client) -> None:
    html = client.get("/block/u7/").content.decode()
    assert 'data-storex-url="/recommend/u7/?n=4"' in html
    assert ">Picks</h2>" in html and 'aria-live="polite"' in html
    assert '<script src="/static/storex/recommendations.js" defer></script>' in html
    guest = client.get("/block/").content.decode()
    assert "data-storex-url" not in guest and "Sign in to see recommendations" in guest


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "settings.STOREX is missing"),
        ({}, "needs exactly one of 'URL'"),
        ({"URL": "http://a:1", "BUNDLE": "models"}, "needs exactly one of 'URL'"),
        ({"URL": "ftp://a"}, "must be an http(s) URL"),
        ({"BUNDLE": "m", "TIMEOUT": 0}, "'TIMEOUT'] must be > 0"),
        ({"BUNDLE": "m", "COUNT": 0}, "'COUNT'] must be a whole number from 1 to 100"),
        ({"BUNDLE": "m", "ITEMS": "lookup"}, "'ITEMS'] must be a dotted path"),
        ({"BUNDLE": "m", "MODEL": "x"}, "unknown key(s) MODEL"),
        ("models", "must be a dict, got str"),
    ],
)
def test_wrong_settings_are_named(value: object, message: str) -> None:
    with override_settings(STOREX=value):
        with pytest.raises(ImproperlyConfigured) as raised:
            storex_settings()
        assert message in str(raised.value)
        errors = run_checks(tags=["storex"])
    assert [e.id for e in errors] == ["storex.E001"] and message in errors[0].msg


def test_checks_warn_about_a_bundle_not_trained_yet(tmp_path: Path, bundle: Path) -> None:
    with override_settings(STOREX={"BUNDLE": str(tmp_path / "models")}):
        assert [e.id for e in run_checks(tags=["storex"])] == ["storex.W001"]
    with override_settings(STOREX={"BUNDLE": str(bundle)}):
        assert run_checks(tags=["storex"]) == []
