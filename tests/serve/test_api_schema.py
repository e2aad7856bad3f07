"""The API's OpenAPI schema fuzzed with Schemathesis against the real HTTP server.

Every operation gets a bounded number of generated requests, valid ones and invalid ones,
sent with the write key: none may get a 5xx, and every answer must match what the schema
documents for its status.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis", reason="the schema test needs schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from tests.serve.test_api_support import KEY, VERSIONS, publish, seed_shop, serving  # noqa: E402
from tests.serve.test_api_support import settings as service_settings  # noqa: E402

EXAMPLES = 12  # per operation and mode: the whole schema in well under a minute


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    seed_shop(db_url)
    models = tmp_path / "models"
    publish(models, VERSIONS[0])
    with serving(service_settings(db_url, models)) as client:
        yield client


def fuzz(operation: Any, mode: GenerationMode, base: str) -> None:
    """Send generated requests for one operation; the first failure fails the test with a
    ``curl`` line that repeats the request."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=base, headers={"X-API-Key": KEY}, timeout=30)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    try:
        check()
    except Unsatisfiable:  # an operation without inputs has no invalid request to make
        assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no request generated"


@pytest.mark.slow
def test_no_generated_request_gets_a_server_error(api: httpx.Client) -> None:
    base = str(api.base_url)
    # The session routes need a session model, which this service is not given (503).
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json").exclude(tag="sessions")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # every route is in the schema
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode, base)
