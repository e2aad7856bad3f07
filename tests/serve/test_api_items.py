"""Items added and changed through the API, and recommendations limited to given item ids,
over a real HTTP server on SQLite and PostgreSQL, with and without a model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serve.test_api_support import seed_shop, serving, settings
from tests.serve.test_engine import seen

NEW_ITEM = {
    "id": "p-100",
    "title": "Deluxe Turntable",
    "year": 2024,
    "categories": ["Audio", "Hi-Fi"],
    "brand": "Acme",
    "price": 249.99,
    "in_stock": True,
    "url": "https://shop.example/p-100",
}


@pytest.fixture
def api_without_model(db_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    seed_shop(db_url)
    with serving(settings(db_url, tmp_path / "models")) as client:
        yield client


def ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def recommend(api: httpx.Client, user: str, **params: Any) -> httpx.Response:
    return api.get(f"/api/recommendations/{user}", params=params)


# ---- adding and changing items ----------------------------------------------------------


def test_an_added_item_is_in_the_catalog_at_once(api: httpx.Client) -> None:
    made = api.post("/api/items", json=NEW_ITEM)
    assert made.status_code == 201, made.text
    assert made.headers["location"] == "/api/items/p-100"
    stored = {k: v for k, v in made.json().items() if k != "recommendable"}
    assert stored == NEW_ITEM
    capabilities = api.get("/api/model/info").json()["stats"]["capabilities"]
    assert made.json()["recommendable"] is capabilities["new_items"]  # the engine's answer
    assert api.get("/api/health").json()["graph"]["added_items"] == 1

    assert api.get("/api/items/p-100").json() == NEW_ITEM
    assert ids(api.get("/api/items/search", params={"q": "turntable"})) == ["p-100"]
    assert ids(api.get("/api/items", params={"category": "hi-fi"})) == ["p-100"]
    assert api.get("/api/items").json()["total"] == 17
    in_audio = ids(recommend(api, "u0", category="Audio"))  # the engine's catalog filter
    assert in_audio == (["p-100"] if made.json()["recommendable"] else [])
    rating = {"user_id": "u0", "item_id": "p-100", "rating": 5}
    assert api.post("/api/ratings", json=rating).status_code == 201


def test_an_added_item_survives_a_restart(published_shop: tuple[str, Path]) -> None:
    with serving(settings(*published_shop)) as api:
        assert api.post("/api/items", json=NEW_ITEM).status_code == 201
    with serving(settings(*published_shop)) as api:
        assert api.get("/api/items/p-100").json() == NEW_ITEM
        assert api.get("/api/health").json()["graph"]["added_items"] == 1


def test_a_change_of_price_or_stock_reaches_the_filters_at_once(api: httpx.Client) -> None:
    vinyl = {"category": "vinyl", "max_price": 130, "in_stock": True}
    assert set(ids(recommend(api, "u0", **vinyl))) == {"i8", "i10", "i12"}
    changed = api.put("/api/items/i8", json={"in_stock": False})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["in_stock"], body["title"], body["price"]) == (False, "Item 8", 90.0)
    assert set(ids(recommend(api, "u0", **vinyl))) == {"i10", "i12"}
    api.put("/api/items/i8", json={"in_stock": True, "price": 135.5})
    assert set(ids(recommend(api, "u0", **vinyl))) == {"i10", "i12"}  # now above max_price
    restored = api.put("/api/items/i8", json={"price": 90})
    assert restored.json()["price"] == 90.0 and restored.json()["in_stock"] is True
    assert set(ids(recommend(api, "u0", **vinyl))) == {"i8", "i10", "i12"}
    cleared = api.put("/api/items/i8", json={"price": None}).json()
    assert cleared["price"] is None and api.get("/api/items/i8").json()["price"] is None


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        ("post", "/api/items", {"id": "i1"}, 409, "an item with id 'i1' already exists"),
        ("post", "/api/items", {"id": "n1", "price": -1}, 422,
         "price: Input should be greater than or equal to 0"),
        ("post", "/api/items", {"id": "n1", "price": 1.234}, 422,
         "price: Value error, price has more than 2 decimal places"),
        ("post", "/api/items", {"id": "n1", "price": 1e10}, 422,
         "price: Input should be less than or equal to 9999999999.99"),
        ("post", "/api/items", {"id": ""}, 422, "id: String should have at least 1 character"),
        ("post", "/api/items", {"id": "   "}, 422, "id: String should have at least 1 character"),
        ("post", "/api/items", {"title": "x"}, 422, "id: Field required"),
        ("post", "/api/items", {"id": "a,b"}, 422, "id: String should match pattern"),
        ("post", "/api/items", {"id": "search"}, 422, "id: Value error, 'search' names a route"),
        ("post", "/api/items", {"id": "n1", "title": "t" * 501}, 422,
         "title: String should have at most 500 characters"),
        ("post", "/api/items", {"id": "n1", "brand": "Acme\u0000"}, 422,
         "brand: String should match pattern"),
        ("post", "/api/items", {"id": "n1", "categories": ["Audio", " "]}, 422,
         "categories.1: String should have at least 1 character"),
        ("post", "/api/items", {"id": "n1", "url": "ftp://x"}, 422,
         "url: String should match pattern"),
        ("post", "/api/items", {"id": "n1", "year": 0}, 422, "year: Input should be greater"),
        ("post", "/api/items", {"id": "n1", "in_stock": None}, 422,
         "in_stock: Input should be a valid boolean"),
        ("post", "/api/items", {"id": "n1", "colour": "red"}, 422,
         "colour: Extra inputs are not permitted"),
        ("put", "/api/items/zz", {"price": 3}, 404, "unknown item id 'zz'"),
        ("put", "/api/items/i1", {"price": -3}, 422,
         "price: Input should be greater than or equal to 0"),
        ("put", "/api/items/i1", {"categories": None}, 422,
         "categories: Input should be a valid list"),
    ],
)  # fmt: skip
def test_bad_items_are_refused_naming_the_field(
    api: httpx.Client, method: str, path: str, body: object, status: int, detail: str
) -> None:
    answer = api.request(method, path, json=body)
    assert answer.status_code == status, answer.text
    assert detail in answer.json()["detail"]
    assert api.get("/api/items").json()["total"] == 16  # nothing stored
    assert api.get("/api/items/i1").json()["price"] == 20.0  # nothing changed


def test_item_writes_need_the_key(api: httpx.Client) -> None:
    missing = httpx.post(f"{api.base_url}/api/items", json=NEW_ITEM)
    assert missing.status_code == 401 and missing.json() == {"detail": "missing X-API-Key header"}
    wrong = api.put("/api/items/i1", json={"price": 1}, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "wrong X-API-Key header"}
    assert api.get("/api/items/p-100").status_code == 404
    assert api.get("/api/items/i1").json()["price"] == 20.0


# ---- recommendations limited to given items --------------------------------------------


def test_allowed_items_limit_the_answer_and_unknown_ids_are_listed(api: httpx.Client) -> None:
    everything = ids(recommend(api, "u0", n=16))
    allowed = ["i9", "i2", "zz", "i10", "i8", "yy"]
    answer = recommend(api, "u0", n=16, items=",".join(allowed))
    assert ids(answer) == [i for i in everything if i in allowed]  # the same ranking, cut
    assert ids(answer) and set(ids(answer)) < set(allowed)
    assert answer.json()["unknown_items"] == ["zz", "yy"]
    assert recommend(api, "u0").json()["unknown_items"] == []
    with_seen = recommend(api, "u0", n=16, items=",".join(seen(0)), exclude_rated=False)
    assert set(ids(with_seen)) == seen(0)
    assert ids(recommend(api, "u0", n=16, items=",".join(seen(0)))) == []
    books = ids(recommend(api, "u0", items="i8 , i9,i1,i3", category="books", n=16))
    assert set(books) == {"i1", "i3"} - seen(0)
    nothing = recommend(api, "u0", items="zz")
    assert ids(nothing) == [] and nothing.json()["unknown_items"] == ["zz"]
    alias = api.get("/recommend/u0/", params={"n": 16, "items": ",".join(allowed)})
    assert ids(alias) == ids(answer)


def test_each_set_of_allowed_items_has_its_own_cached_answer(api: httpx.Client) -> None:
    first = recommend(api, "u0", items="i8,i10,i12")
    assert set(ids(first)) == {"i8", "i10", "i12"} and not first.json()["cached"]
    other = recommend(api, "u0", items="i9,i11")
    assert set(ids(other)) == {"i9", "i11"} and not other.json()["cached"]
    again = recommend(api, "u0", items="i12,i10,i8")  # the same set in another order
    assert again.json()["cached"] and ids(again) == ids(first)


def test_an_added_item_can_be_allowed_and_is_not_unknown(api: httpx.Client) -> None:
    recommendable = api.post("/api/items", json=NEW_ITEM).json()["recommendable"]
    answer = recommend(api, "u0", items="p-100,i8")
    assert answer.json()["unknown_items"] == []
    assert set(ids(answer)) == ({"p-100", "i8"} if recommendable else {"i8"})


@pytest.mark.parametrize(
    ("items", "detail"),
    [
        ("", "query.items: String should have at least 1 character"),
        ("i1,,i2", "query.items: Value error, entry 1 is empty"),
        ("i1,\u0000", "query.items: Value error, entry 1 holds a NUL character"),
        (",".join(f"x{i}" for i in range(2001)), "2001 item ids, at most 2000 are allowed"),
    ],
)
def test_bad_allowed_items_are_refused(api: httpx.Client, items: str, detail: str) -> None:
    answer = recommend(api, "u0", items=items)
    assert answer.status_code == 422 and detail in answer.json()["detail"]


def test_without_a_model_allowed_items_limit_the_popular_items(
    api_without_model: httpx.Client,
) -> None:
    api = api_without_model
    for user, item in [("u1", "i5"), ("u2", "i5"), ("u3", "i5"), ("u1", "i7"), ("u2", "i7")]:
        rating = {"user_id": user, "item_id": item, "rating": 4}
        assert api.post("/api/ratings", json=rating).status_code == 201
    unknown = [f"x{i}" for i in range(600)]  # more ids than one IN list takes
    listed = ["i0", "i5", *unknown, "i7"]
    answer = recommend(api, "u4", n=3, items=",".join(listed))
    assert answer.json()["strategy"] == "popularity"
    assert [(i["id"], i["score"]) for i in answer.json()["items"]] == [
        ("i5", 3.0),
        ("i7", 2.0),
        ("i0", 0.0),
    ]
    assert answer.json()["unknown_items"] == unknown
    assert ids(recommend(api, "u1", items="i5,i7,i2,i3", in_stock=True)) == ["i2"]

    made = api.post("/api/items", json=NEW_ITEM)
    assert made.status_code == 201 and made.json()["recommendable"] is True
    added = recommend(api, "u4", items="p-100,zz")
    assert ids(added) == ["p-100"] and added.json()["unknown_items"] == ["zz"]
