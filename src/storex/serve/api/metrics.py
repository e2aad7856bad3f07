"""Prometheus metrics of one application, in its own registry (several apps may share a
process, as in tests)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Request latency per route template, errors by status, cache use, answers by strategy."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "storex_http_request_duration_seconds",
            "Time to answer a request, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "storex_http_requests",
            "Requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "storex_http_errors",
            "Answers with a status of 400 or more, by status.",
            ["status"],
            registry=self.registry,
        )
        self.cache = Counter(
            "storex_recommendation_cache",
            "Recommendation answers served from the cache (hit) or computed (miss).",
            ["result"],
            registry=self.registry,
        )
        self.answers = Counter(
            "storex_recommendations",
            "Recommendation answers by strategy.",
            ["strategy"],
            registry=self.registry,
        )
        self.engine_sync_errors = Counter(
            "storex_engine_sync_errors",
            "Stored changes the engine could not take (they apply after a restart).",
            registry=self.registry,
        )
        self.model_loaded = Gauge(
            "storex_model_loaded", "1 when a model is in service.", registry=self.registry
        )

        self._children: dict[tuple[Any, ...], Any] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._child(self.latency, method, route).observe(seconds)
        self._child(self.requests, method, route, str(status)).inc()
        if status >= 400:
            self._child(self.errors, str(status)).inc()

    def observe_answer(self, strategy: str, cached: bool) -> None:
        self._child(self.answers, strategy).inc()
        self._child(self.cache, "hit" if cached else "miss").inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once per label set (a hot path)."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def render(self) -> bytes:
        return _generate(self.registry)
