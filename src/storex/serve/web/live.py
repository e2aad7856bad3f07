"""Live figures of the service for the dashboard, read from its Prometheus metrics.

Counts and latency cover the API routes (``/api/...`` and ``/recommend/...``): the pages and
the dashboard's own polling are not traffic a shop cares about. Latency percentiles are
estimated from the histogram buckets as Prometheus' ``histogram_quantile`` does (linear
within a bucket), so they are exact to a bucket's width. The request rate is the change of
``requests`` between two readings over the change of ``at``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prometheus_client.metrics import MetricWrapperBase

from storex.serve.api.metrics import Metrics

API_PREFIXES = ("/api/", "/recommend/")
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
TOP_ROUTES = 8

Buckets = dict[float, float]  # upper bound -> cumulative count


def live_figures(metrics: Metrics) -> dict[str, Any]:
    """Requests, errors, latency percentiles, cache hit rate and answers by strategy."""
    requests: dict[tuple[str, str], float] = defaultdict(float)
    errors: dict[str, float] = defaultdict(float)
    for labels, value in _samples(metrics.requests, "_total"):
        if _is_api(labels["route"]):
            requests[labels["method"], labels["route"]] += value
            if int(labels["status"]) >= 400:
                errors[labels["status"]] += value
    buckets: dict[tuple[str, str], Buckets] = defaultdict(dict)
    for labels, value in _samples(metrics.latency, "_bucket"):
        if _is_api(labels["route"]):
            bound = float(labels["le"])
            key = (labels["method"], labels["route"])
            buckets[key][bound] = buckets[key].get(bound, 0.0) + value
    overall: Buckets = defaultdict(float)
    for per_route in buckets.values():
        for bound, count in per_route.items():
            overall[bound] += count
    cache = {labels["result"]: value for labels, value in _samples(metrics.cache, "_total")}
    hits, misses = int(cache.get("hit", 0)), int(cache.get("miss", 0))
    routes = sorted(requests.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ROUTES]
    return {
        "at": time.time(),
        "requests": int(sum(requests.values())),
        "errors": {status: int(n) for status, n in sorted(errors.items())},
        "latency_ms": percentiles(overall),
        "routes": [
            {
                "method": method,
                "route": route,
                "requests": int(n),
                **percentiles(buckets[method, route]),
            }
            for (method, route), n in routes
        ],
        "cache": {
            "hits": hits,
            "misses": misses,
            "hit_rate": hits / (hits + misses) if hits + misses else None,
        },
        "answers": {
            labels["strategy"]: int(value) for labels, value in _samples(metrics.answers, "_total")
        },
    }


def percentiles(buckets: Mapping[float, float]) -> dict[str, float | None]:
    """p50, p95 and p99 in milliseconds (None without observations)."""
    return {name: _quantile(q, buckets) for name, q in QUANTILES.items()}


def _quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    bounds: Sequence[float] = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == float("inf"):  # beyond the last finite bucket: its bound is all we know
                return lower * 1000
            share = (rank - below) / (count - below) if count > below else 1.0
            return (lower + (bound - lower) * share) * 1000
        lower, below = bound, count
    return lower * 1000


def _samples(metric: MetricWrapperBase, suffix: str) -> Iterable[tuple[dict[str, str], float]]:
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith(suffix):
                yield sample.labels, sample.value


def _is_api(route: str) -> bool:
    return route.startswith(API_PREFIXES)
