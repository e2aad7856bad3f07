"""Live figures from the service's Prometheus metrics: what counts and the percentiles."""

from __future__ import annotations

import pytest

from storex.serve.api.metrics import Metrics
from storex.serve.web.live import live_figures, percentiles

INF = float("inf")


def test_percentiles_interpolate_within_the_bucket() -> None:
    buckets = {0.001: 0, 0.0025: 0, 0.005: 10, 0.01: 10, INF: 10}
    assert percentiles(buckets) == {
        "p50": pytest.approx(3.75),
        "p95": pytest.approx(2.5 + 2.5 * 0.95),
        "p99": pytest.approx(2.5 + 2.5 * 0.99),
    }


def test_percentiles_spread_over_buckets() -> None:
    # 50 answers under 1 ms, 40 between 1 and 2 ms, 10 above 5 ms
    buckets = {0.001: 50, 0.002: 90, 0.005: 90, INF: 100}
    figures = percentiles(buckets)
    assert figures["p50"] == pytest.approx(1.0)
    assert figures["p95"] == pytest.approx(5.0)  # beyond the last finite bound: that bound


def test_percentiles_without_observations_are_none() -> None:
    assert percentiles({}) == {"p50": None, "p95": None, "p99": None}
    assert percentiles({0.001: 0, INF: 0}) == {"p50": None, "p95": None, "p99": None}


def test_live_figures_count_api_routes_only() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.observe_request("GET", "/api/users/{user_id}", 200, 0.003)
    metrics.observe_request("GET", "/api/users/{user_id}", 404, 0.002)
    metrics.observe_request("GET", "/recommend/{user_id}/", 200, 0.02)
    for _ in range(5):
        metrics.observe_request("GET", "/web/api/live", 200, 0.001)
        metrics.observe_request("GET", "/", 200, 0.001)
    metrics.observe_answer("personalized", cached=False)
    metrics.observe_answer("personalized", cached=True)
    metrics.observe_answer("popularity", cached=True)
    metrics.observe_answer("fold_in", cached=True)

    live = live_figures(metrics)
    assert live["requests"] == 5
    assert live["errors"] == {"404": 1}
    assert live["cache"] == {"hits": 3, "misses": 1, "hit_rate": 0.75}
    assert live["answers"] == {"personalized": 2, "popularity": 1, "fold_in": 1}
    assert [(r["route"], r["requests"]) for r in live["routes"]] == [
        ("/api/users/{user_id}", 4),
        ("/recommend/{user_id}/", 1),
    ]
    assert 2.5 < live["latency_ms"]["p50"] <= 5.0
    assert 10.0 < live["latency_ms"]["p99"] <= 25.0


def test_live_figures_of_a_fresh_service() -> None:
    live = live_figures(Metrics())
    assert live["requests"] == 0 and live["routes"] == [] and live["answers"] == {}
    assert live["cache"]["hit_rate"] is None
    assert live["latency_ms"] == {"p50": None, "p95": None, "p99": None}
