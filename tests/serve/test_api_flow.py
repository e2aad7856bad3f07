"""The API over a real HTTP server, on SQLite and PostgreSQL: the user journey, every
endpoint with its errors, cache invalidation, restarts and model hot swaps."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from storex.models.baselines import ItemKNN
from storex.serve.engine import ModelRegistry
from tests.serve.test_api_support import VERSIONS, publish, serving, settings
from tests.serve.test_engine import BOOKS, MUSIC, seen


def ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def test_new_user_journey(api: httpx.Client) -> None:
    made = api.post("/api/users", json={"age": 34, "gender": "F", "occupation": "writer"})
    assert made.status_code == 201, made.text
    user = made.json()["id"]
    assert user.startswith("u-") and made.headers["location"] == f"/api/users/{user}"
    assert api.get(f"/api/users/{user}").json()["occupation"] == "writer"

    cold = api.get(f"/api/recommendations/{user}", params={"n": 5}).json()
    assert cold["strategy"] == "popularity" and cold["confidence"] == 0.0
    assert cold["model_version"] == VERSIONS[0] and all(i["title"] for i in cold["items"])

    rated = {"i8": 5, "i10": 5, "i12": 4}
    for item, value in rated.items():
        answer = api.post("/api/ratings", json={"user_id": user, "item_id": item, "rating": value})
        assert answer.status_code == 201, answer.text
    warm = api.get(f"/api/recommendations/{user}", params={"n": 5})
    body = warm.json()
    assert body["strategy"] == "fold_in" and body["confidence"] > 0 and not body["cached"]
    assert ids(warm) != [i["id"] for i in cold["items"]]
    assert set(ids(warm)[:3]) <= MUSIC - set(rated)  # the model follows the music taste
    assert not set(ids(warm)) & set(rated)

    history = api.get(f"/api/users/{user}/ratings").json()
    assert history["total"] == 3
    assert {r["item_id"]: r["rating"] for r in history["ratings"]} == rated
    # The Django-style alias answers the same.
    assert ids(api.get(f"/recommend/{user}/", params={"n": 5})) == ids(warm)


def test_known_user_filters_and_explanations(api: httpx.Client) -> None:
    answer = api.get("/api/recommendations/u0", params={"n": 16})
    assert answer.json()["strategy"] == "personalized"
    assert not set(ids(answer)) & seen(0)
    with_seen = ids(api.get("/api/recommendations/u0", params={"n": 16, "exclude_rated": False}))
    assert seen(0) <= set(with_seen)
    music = api.get(
        "/api/recommendations/u0", params={"category": "vinyl", "max_price": 130, "in_stock": True}
    )
    assert set(ids(music)) == {"i8", "i10", "i12"}
    explained = api.get("/api/recommendations/u0", params={"n": 2, "explain": True}).json()
    reasons = explained["items"][0]["because"]
    assert reasons and {r["item_id"] for r in reasons} <= seen(0) and reasons[0]["title"]


def test_a_rating_invalidates_the_cached_answer(api: httpx.Client) -> None:
    first = api.get("/api/recommendations/u3").json()
    again = api.get("/api/recommendations/u3").json()
    assert again["cached"] and again["items"] == first["items"]
    top = first["items"][0]["id"]
    assert api.post("/api/ratings", json={"user_id": "u3", "item_id": top, "rating": 1}).is_success
    after = api.get("/api/recommendations/u3").json()
    assert not after["cached"] and top not in [i["id"] for i in after["items"]]
    refreshed = api.post("/api/recommendations/u3/refresh")
    assert refreshed.json() == {
        "user_id": "u3",
        "model_version": VERSIONS[0],
        "cache_dropped": True,
    }
    assert not api.get("/api/recommendations/u3").json()["cached"]
    metrics = api.get("/metrics").text
    assert 'storex_recommendation_cache_total{result="hit"} 1.0' in metrics
    assert 'storex_recommendations_total{strategy="personalized"}' in metrics


def test_rating_update_delete_and_stats(api: httpx.Client) -> None:
    made = api.post("/api/ratings", json={"user_id": "u1", "item_id": "i9", "rating": 2}).json()
    assert api.get(f"/api/ratings/{made['id']}").json()["rating"] == 2.0
    changed = api.put(f"/api/ratings/{made['id']}", json={"rating": 4.5})
    assert changed.status_code == 200 and changed.json()["rating"] == 4.5
    assert changed.json()["updated_at"] is not None
    api.post("/api/ratings", json={"user_id": "u2", "item_id": "i9", "rating": 3})
    stats = api.get("/api/ratings/stats").json()
    assert stats == {
        "count": 2,
        "mean": 3.75,
        "histogram": {"3": 1, "4.5": 1},
        "users": 2,
        "items": 1,
    }
    assert "i9" in ids(api.get("/api/recommendations/u1", params={"n": 16, "exclude_rated": False}))
    assert "i9" not in ids(api.get("/api/recommendations/u1", params={"n": 16}))
    assert api.delete(f"/api/ratings/{made['id']}").status_code == 204
    assert api.get(f"/api/ratings/{made['id']}").status_code == 404
    assert "i9" in ids(api.get("/api/recommendations/u1", params={"n": 16}))
    assert api.get("/api/users/u1/ratings").json()["total"] == 0


def test_items(api: httpx.Client) -> None:
    page = api.get("/api/items", params={"limit": 3, "offset": 2}).json()
    assert [i["id"] for i in page["items"]] == ["i2", "i3", "i4"] and page["total"] == 16
    cheap = api.get("/api/items", params={"min_price": 20, "max_price": 50, "in_stock": True})
    assert [i["id"] for i in cheap.json()["items"]] == ["i2", "i4"]
    assert api.get("/api/items", params={"category": "VINYL"}).json()["total"] == 8
    found = api.get("/api/items/search", params={"q": "item 1"}).json()
    assert {i["id"] for i in found["items"]} == {"i1"} | {f"i{n}" for n in range(10, 16)}
    assert api.get("/api/items/i4").json()["price"] == 50.0
    similar = api.get("/api/items/i0/similar", params={"n": 3}).json()
    assert len(similar["items"]) == 3 and {i["id"] for i in similar["items"]} <= BOOKS
    scores = api.post("/api/predict", json={"user_id": "u0", "item_ids": ["i1", "i9"]}).json()
    by_item = {p["item_id"]: p["score"] for p in scores["predictions"]}
    assert by_item["i1"] > by_item["i9"] and scores["model_version"] == VERSIONS[0]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        ("get", "/api/users/nobody", None, 404, "unknown user id 'nobody'"),
        ("get", "/api/users/nobody/ratings", None, 404, "unknown user id 'nobody'"),
        ("get", "/api/recommendations/nobody", None, 404, "unknown user id 'nobody'"),
        ("get", "/api/items/zz", None, 404, "unknown item id 'zz'"),
        ("get", "/api/items/zz/similar", None, 404, "unknown item id 'zz'"),
        ("get", "/api/ratings/999", None, 404, "unknown rating id 999"),
        ("put", "/api/ratings/999", {"rating": 3}, 404, "unknown rating id 999"),
        ("delete", "/api/ratings/999", None, 404, "unknown rating id 999"),
        ("post", "/api/ratings", {"user_id": "x", "item_id": "i1", "rating": 3}, 404,
         "unknown user id 'x'"),
        ("post", "/api/ratings", {"user_id": "u1", "item_id": "x", "rating": 3}, 404,
         "unknown item id 'x'"),
        ("post", "/api/predict", {"user_id": "u1", "item_ids": ["i1", "x"]}, 404,
         "item_id"),
        ("post", "/api/ratings", {"user_id": "u1", "item_id": "i1", "rating": 7}, 422,
         "rating: Input should be less than or equal to 5"),
        ("post", "/api/ratings", {"user_id": "u1", "item_id": "i1"}, 422, "rating: Field required"),
        ("get", "/api/ratings/abc", None, 422, "path.rating_id: Input should be a valid integer"),
        ("get", "/api/recommendations/u1?n=0", None, 422, "query.n: Input should be greater"),
        ("get", "/api/recommendations/u1?n=ten", None, 422, "query.n: Input should be a valid"),
        ("get", "/api/recommendations/u1?min_price=9&max_price=2", None, 422,
         "min_price 9 is above max_price 2"),
        ("get", "/api/items?limit=1000", None, 422, "query.limit: Input should be less than"),
        ("get", "/api/items/search?q=%20", None, 422, "search text is empty"),
        ("post", "/api/users", {"age": -3}, 422, "age: Input should be greater than or equal"),
        ("post", "/api/users", {"gender": "X"}, 422, "gender: String should match pattern"),
        ("post", "/api/users", {"external_id": "u1"}, 409,
         "a user with external_id 'u1' already exists"),
        ("get", "/api/nothing", None, 404, "no route GET /api/nothing"),
        ("get", "/api/ratings/3000000000", None, 422,
         "path.rating_id: Input should be less than or equal to 2147483647"),
        ("get", "/api/items?offset=99999999999999999999", None, 422,
         "query.offset: Input should be less than or equal to 9223372036854775807"),
        ("post", "/api/users", {"occupation": "chef\u0000"}, 422,
         "occupation: String should match pattern"),
        ("post", "/api/predict", {"user_id": "u1", "item_ids": ["i1", "\u0000"]}, 422,
         "item_ids.1: String should match pattern"),
    ],
)  # fmt: skip
def test_errors_are_json_with_the_right_status(
    api: httpx.Client, method: str, path: str, body: object, status: int, detail: str
) -> None:
    answer = api.request(method, path, json=body)
    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"]


def test_a_repeated_rating_is_a_conflict_naming_put(api: httpx.Client) -> None:
    first = api.post("/api/ratings", json={"user_id": "u1", "item_id": "i1", "rating": 3}).json()
    again = api.post("/api/ratings", json={"user_id": "u1", "item_id": "i1", "rating": 4})
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"user 'u1' already rated item 'i1' (rating id {first['id']}); "
        f"use PUT /api/ratings/{first['id']} to change it"
    )


def test_writes_need_the_key(api: httpx.Client) -> None:
    rating = {"user_id": "u1", "item_id": "i1", "rating": 3}
    missing = httpx.post(f"{api.base_url}/api/ratings", json=rating)
    assert missing.status_code == 401 and missing.json() == {"detail": "missing X-API-Key header"}
    wrong = api.post("/api/ratings", json=rating, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "wrong X-API-Key header"}
    assert httpx.post(f"{api.base_url}/api/model/reload").status_code == 401
    assert httpx.get(f"{api.base_url}/api/recommendations/u1").status_code == 200  # reads open
    assert api.get("/api/ratings/stats").json()["count"] == 0


def test_health_info_metrics_and_request_ids(
    api: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    health = api.get("/api/health").json()
    assert health["status"] == "ok" and health["database"] and health["model_loaded"]
    assert health["graph"]["users"] == 20 and health["graph"]["training_edges"] == 120
    info = api.get("/api/model/info").json()
    assert info["version"] == VERSIONS[0] and info["params"]["l2"] == 1.0
    assert info["created"] and info["registry_current"] == VERSIONS[0]
    with caplog.at_level(logging.INFO, logger="storex.serve.access"):
        echoed = api.get("/api/users/u1", headers={"X-Request-ID": "abc-123"})
        made = api.get("/api/users/nobody")
    assert echoed.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32
    lines = {
        line["path"]: line for line in access_lines(caplog, ["/api/users/u1", "/api/users/nobody"])
    }
    expected = {"method": "GET", "route": "/api/users/{user_id}", "status": 200}
    expected["request_id"] = "abc-123"
    assert expected.items() <= lines["/api/users/u1"].items()
    assert lines["/api/users/nobody"]["status"] == 404 and lines["/api/users/nobody"]["ms"] >= 0
    metrics = api.get("/metrics").text
    assert (
        'storex_http_request_duration_seconds_count{method="GET",route="/api/users/{user_id}"} 2.0'
        in metrics
    )
    assert 'storex_http_errors_total{status="404"} 1.0' in metrics


def access_lines(caplog: pytest.LogCaptureFixture, paths: list[str]) -> list[dict[str, Any]]:
    """The access log lines (written just after each answer is sent, so wait for them)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith("access")]
        if set(paths) <= {line["path"] for line in lines} or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def test_a_restart_keeps_live_state(published_shop: tuple[str, Path]) -> None:
    with serving(settings(*published_shop)) as api:
        user = api.post("/api/users", json={"external_id": "newbie", "age": 20}).json()["id"]
        for item in ("i1", "i3"):
            api.post("/api/ratings", json={"user_id": user, "item_id": item, "rating": 5})
        api.post("/api/ratings", json={"user_id": "u12", "item_id": "i2", "rating": 5})
        before = api.get(f"/api/recommendations/{user}").json()
        known = ids(api.get("/api/recommendations/u12", params={"n": 16}))
    with serving(settings(*published_shop)) as api:
        after = api.get(f"/api/recommendations/{user}").json()
        assert after["strategy"] == "fold_in" and after["items"] == before["items"]
        assert ids(api.get("/api/recommendations/u12", params={"n": 16})) == known
        assert "i2" not in known


def test_hot_swap_and_rollback(published_shop: tuple[str, Path]) -> None:
    url, models = published_shop
    with serving(settings(url, models)) as api:
        api.post("/api/ratings", json={"user_id": "u0", "item_id": "i9", "rating": 5})
        assert api.get("/api/recommendations/u0").json()["model_version"] == VERSIONS[0]
        unchanged = api.post("/api/model/reload").json()
        assert unchanged == {"previous": VERSIONS[0], "version": VERSIONS[0], "swapped": False}
        publish(models, VERSIONS[1], ItemKNN(k=5, shrink=1.0))
        swapped = api.post("/api/model/reload").json()
        assert swapped == {"previous": VERSIONS[0], "version": VERSIONS[1], "swapped": True}
        answer = api.get("/api/recommendations/u0", params={"n": 16}).json()
        assert answer["model_version"] == VERSIONS[1] and not answer["cached"]
        assert "i9" not in [i["id"] for i in answer["items"]]  # the live rating came along
        assert api.get("/api/model/info").json()["model"] == "item_knn"
        back = api.post("/api/model/rollback").json()
        assert back == {"previous": VERSIONS[1], "version": VERSIONS[0], "swapped": True}
        assert ModelRegistry(models, "shop").current() == VERSIONS[0]
        assert api.get("/api/recommendations/u0").json()["model_version"] == VERSIONS[0]
        refused = api.post("/api/model/rollback")
        assert refused.status_code == 409 and "no version before" in refused.json()["detail"]
