"""The session endpoints: POST /recommend and /recommend/batch, with their error cases.

Most tests use the real application (``create_app``) without its lifespan, so no database is
opened, and place the session model in ``app.state.session_recommender`` themselves; the last
ones start the whole service on a real server and let it load the model its settings name.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from storex.serve.api import create_app
from storex.sessions import SessionEngine, SessionRecommender
from tests.serve.test_api_support import serving, settings
from tests.sessions.conftest import small_config
from tests.sessions.planted import planted_dataset, successor


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session model trained on the planted store, saved."""
    cache = tmp_path_factory.mktemp("pe-cache")
    model = SessionRecommender(small_config()).fit(planted_dataset(), cache_dir=cache)
    return model.save(tmp_path_factory.mktemp("models") / "sessions")


@pytest.fixture(scope="module")
def engine(saved: Path) -> SessionEngine:
    return SessionEngine.load(saved)


@pytest.fixture
def api(engine: SessionEngine) -> Iterator[TestClient]:
    app = create_app()
    app.state.session_recommender = engine
    yield TestClient(app)


def test_a_known_session_gets_the_next_items(api: TestClient) -> None:
    answer = api.post("/recommend", json={"session_items": ["p20", "p21"], "k": 3})
    assert answer.status_code == 200
    body = answer.json()
    assert body["strategy"] == "session_model" and body["unknown_items"] == []
    assert body["items"][0]["item_id"] == successor("p21")
    assert len(body["items"]) == 3 and body["model_version"]
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_unknown_items_are_reported_and_k_defaults_to_ten(api: TestClient) -> None:
    body = api.post("/recommend", json={"session_items": ["p30", "ghost"]}).json()
    assert body["unknown_items"] == ["ghost"] and len(body["items"]) == 10
    assert body["items"][0]["item_id"] == "p31"


@pytest.mark.parametrize("items", [[], ["ghost", "phantom"]])
def test_nothing_known_gets_the_popularity_answer(api: TestClient, items: list[str]) -> None:
    body = api.post("/recommend", json={"session_items": items, "k": 4}).json()
    assert body["strategy"] == "popularity" and len(body["items"]) == 4
    assert body["unknown_items"] == items


def test_events_are_accepted(api: TestClient) -> None:
    body = {"session_items": ["p20", "p21"], "events": ["view", "cart"], "k": 2}
    assert api.post("/recommend", json=body).json()["strategy"] == "session_model"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"k": 3}, "session_items: Field required"),
        ({"session_items": "p20"}, "session_items: Input should be a valid list"),
        ({"session_items": ["p20"], "k": 0}, "k: Input should be greater than or equal to 1"),
        ({"session_items": ["p20"], "k": 101}, "k: Input should be less than or equal to 100"),
        ({"session_items": [""]}, "session_items.0: String should have at least 1 character"),
        ({"session_items": ["p20"], "user": "u1"}, "user: Extra inputs are not permitted"),
        ({"session_items": ["p1"] * 201}, "session_items: List should have at most 200 items"),
        ({"session_items": ["p20"], "events": ["view", "cart"]}, "events has 2 entries for 1"),
        ({"session_items": ["p20"], "events": ["click"]}, "events.0: String should match"),
    ],
)
def test_bad_requests_are_422_naming_the_field(api: TestClient, body: dict, message: str) -> None:
    answer = api.post("/recommend", json=body)
    assert answer.status_code == 422
    assert message in answer.json()["detail"]


def test_batch_answers_each_session_in_order(api: TestClient) -> None:
    body = {
        "sessions": [
            {"session_items": ["p00", "p01"], "k": 2},
            {"session_items": []},
            {"session_items": ["x", "p12"], "k": 5},
        ]
    }
    answer = api.post("/recommend/batch", json=body)
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [len(r["items"]) for r in results] == [2, 10, 5]
    assert [r["strategy"] for r in results] == ["session_model", "popularity", "session_model"]
    assert results[0]["items"][0]["item_id"] == "p02" and results[2]["unknown_items"] == ["x"]
    single = api.post("/recommend", json=body["sessions"][2]).json()
    assert [i["item_id"] for i in single["items"]] == [i["item_id"] for i in results[2]["items"]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"sessions": []}, "sessions: List should have at least 1 item"),
        ({"sessions": [{"session_items": ["a"]}] * 101}, "List should have at most 100 items"),
        ({"sessions": [{"session_items": ["a"], "k": -1}]}, "sessions.0.k: Input should be"),
        ({}, "sessions: Field required"),
    ],
)
def test_bad_batches_are_422(api: TestClient, body: dict, message: str) -> None:
    answer = api.post("/recommend/batch", json=body)
    assert answer.status_code == 422 and message in answer.json()["detail"]


def test_without_a_session_model_the_routes_answer_503() -> None:
    client = TestClient(create_app())
    for path, body in [
        ("/recommend", {"session_items": ["p1"]}),
        ("/recommend/batch", {"sessions": [{"session_items": ["p1"]}]}),
    ]:
        answer = client.post(path, json=body)
        assert answer.status_code == 503
        assert answer.json() == {
            "detail": "no session model is loaded: session recommendations are off"
        }


def test_routes_are_in_the_openapi_schema(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert "post" in paths["/recommend"] and "post" in paths["/recommend/batch"]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_the_service_loads_the_configured_session_model(
    saved: Path, engine: SessionEngine, sqlite_url: str, tmp_path: Path, backend: str
) -> None:
    folder = shutil.copytree(saved, tmp_path / "session-model")  # onnx exports into it
    config = settings(
        sqlite_url, tmp_path / "models", session_model_dir=folder, session_backend=backend
    )
    with serving(config) as api:
        health = api.get("/api/health").json()
        assert health["session_model_loaded"] and health["session_model_version"]
        assert health["session_model_version"] == engine.version
        answer = api.post("/recommend", json={"session_items": ["p20", "p21"], "k": 3})
        assert answer.status_code == 200
        body = answer.json()
        assert body["strategy"] == "session_model" and body["model_version"] == engine.version
        expected = engine.recommend(["p20", "p21"], 3).items
        assert [i["item_id"] for i in body["items"]] == expected
        assert expected[0] == successor("p21")
    assert (folder / "model.onnx").is_file() == (backend == "onnx")


def test_a_broken_session_model_is_named_and_the_rest_still_serves(
    saved: Path, sqlite_url: str, tmp_path: Path
) -> None:
    folder = shutil.copytree(saved, tmp_path / "broken")
    (folder / "weights.pt").unlink()
    with serving(settings(sqlite_url, tmp_path / "models", session_model_dir=folder)) as api:
        health = api.get("/api/health")
        assert health.status_code == 200 and health.json()["database"]
        assert health.json()["session_model_loaded"] is False
        assert health.json()["session_model_version"] is None
        for path, body in [
            ("/recommend", {"session_items": ["p1"]}),
            ("/recommend/batch", {"sessions": [{"session_items": ["p1"]}]}),
        ]:
            answer = api.post(path, json=body)
            assert answer.status_code == 503
            detail = answer.json()["detail"]
            assert detail.startswith("session model not loaded: ")
            assert str(folder) in detail and "weights.pt" in detail
        # the rest of the service is up: the catalog answers from the (empty) database
        items = api.get("/api/items", params={"limit": 1})
        assert items.status_code == 200 and items.json()["total"] == 0


def test_without_a_configured_session_model_the_service_says_so(
    sqlite_url: str, tmp_path: Path
) -> None:
    with serving(settings(sqlite_url, tmp_path / "models")) as api:
        assert api.get("/api/health").json()["session_model_loaded"] is False
        answer = api.post("/recommend", json={"session_items": ["p1"]})
        assert answer.status_code == 503
        assert answer.json()["detail"] == (
            "no session model is loaded: session recommendations are off"
        )
