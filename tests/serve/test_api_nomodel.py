"""The service without a model: it starts, answers by popularity from the database, refuses
model-only routes with 503, and loads a model published later on reload."""

from __future__ import annotations

from pathlib import Path

import httpx

from storex.config import load_settings
from tests.serve.test_api_support import KEY, VERSIONS, publish, seed_shop, serving, settings


def test_popularity_from_the_database_then_a_model_on_reload(db_url: str, tmp_path: Path) -> None:
    seed_shop(db_url)
    models = tmp_path / "models"
    with serving(settings(db_url, models)) as api:
        health = api.get("/api/health")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded" and not health.json()["model_loaded"]
        for user, item in [("u1", "i5"), ("u2", "i5"), ("u3", "i5"), ("u1", "i7"), ("u2", "i7")]:
            api.post("/api/ratings", json={"user_id": user, "item_id": item, "rating": 4})
        answer = api.get("/api/recommendations/u4", params={"n": 3}).json()
        assert answer["strategy"] == "popularity" and answer["model_version"] is None
        assert [(i["id"], i["score"]) for i in answer["items"]] == [
            ("i5", 3.0),
            ("i7", 2.0),
            ("i0", 0.0),
        ]
        mine = api.get("/api/recommendations/u1", params={"n": 2, "in_stock": True}).json()
        assert [i["id"] for i in mine["items"]] == ["i0", "i2"]  # rated and odd items left out
        for path in ("/api/model/info", "/api/items/i1/similar"):
            refused = api.get(path)
            assert refused.status_code == 503 and "no model is loaded" in refused.json()["detail"]
        refused = api.post("/api/predict", json={"user_id": "u1", "item_ids": ["i1"]})
        assert refused.status_code == 503
        assert api.post("/api/model/reload").status_code == 503

        publish(models, VERSIONS[0])
        assert api.post("/api/model/reload").json() == {
            "previous": None,
            "version": VERSIONS[0],
            "swapped": True,
        }
        answer = api.get("/api/recommendations/u1", params={"n": 16}).json()
        assert answer["model_version"] == VERSIONS[0]
        assert not {"i5", "i7"} & {i["id"] for i in answer["items"]}  # stored history came along


def test_without_a_key_writes_are_open_and_model_admin_is_off(db_url: str, tmp_path: Path) -> None:
    seed_shop(db_url)
    config = load_settings(
        models_dir=tmp_path / "models",
        serve={"database_url": db_url, "cors_origins": ["https://shop.example"]},
    )
    with serving(config) as api:
        open_write = httpx.post(
            f"{api.base_url}/api/ratings", json={"user_id": "u1", "item_id": "i1", "rating": 5}
        )
        assert open_write.status_code == 201
        refused = api.post("/api/model/reload", headers={"X-API-Key": KEY})
        assert refused.status_code == 403
        assert refused.json() == {
            "detail": "model administration is off: set STOREX_SERVE__API_KEY to allow it"
        }
        cors = api.options(
            "/api/ratings",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
        )
        assert cors.headers["access-control-allow-origin"] == "https://shop.example"
        other = api.get("/api/items", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
