"""Property-based fuzzing of every API operation from the OpenAPI schema: never a 5xx.

Schemathesis generates requests (valid and invalid parameters and bodies) for each
operation of ``/openapi.json`` and sends them to the app as an admin, so every route runs
past authentication. A bounded number of examples per operation keeps this under a
minute; revoking keys is left out so the fuzzer keeps its own credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from service_env import Env, build_env

EXAMPLES = 12

# The upload body is a FITS file, sent as it is: generated binary strings go out as bytes
# (and must be refused with a 4xx, never stored).
schemathesis.serializer.alias("application/fits", "application/octet-stream")


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from build_env(tmp_path_factory.mktemp("fuzz"), upload_max_bytes=200_000)


@pytest.fixture(scope="module")
def api_schema(fuzz_env: Env) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_env.client.app)
    return schema.exclude(method="DELETE", path="/api/v1/keys/{key_id}")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: Any, fuzz_env: Env) -> None:
    response = case.call(headers=fuzz_env.headers("admin"))
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
