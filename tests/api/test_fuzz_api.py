"""Property-based fuzzing of every API operation from the OpenAPI schema: never a 5xx.

Schemathesis generates requests (valid and invalid parameters and bodies) for each
operation of ``/openapi.json`` and sends them to the app as an admin, so every route runs
past authentication. A bounded number of examples per operation keeps this under a
minute; revoking keys is left out so the fuzzer keeps its own credentials.

Each operation's cases come from schemathesis' strategy API and run under Hypothesis
directly (not through schemathesis' pytest plugin, which reaches into pytest internals
and broke with pytest 9.2), so the test runs the same on every pytest this project allows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from service_env import Env, build_env

EXAMPLES = 12

# The upload body is a FITS file, sent as it is: generated binary strings go out as bytes
# (and must be refused with a 4xx, never stored).
schemathesis.serializer.alias("application/fits", "application/octet-stream")


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from build_env(tmp_path_factory.mktemp("fuzz"), upload_max_bytes=200_000)


def _operations(env: Env) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", env.client.app)
    schema = schema.exclude(method="DELETE", path="/api/v1/keys/{key_id}")
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_is_fuzzed(fuzz_env: Env) -> None:
    labels = {op.label for op in _operations(fuzz_env)}
    # the schema is read, and its main routes are among the fuzzed operations
    wanted = {
        "GET /api/v1/candidates",
        "GET /api/v1/candidates/cone",
        "POST /api/v1/candidates/{candidate_id}/labels",
        "POST /api/v1/observations",
    }
    assert labels >= wanted
    assert "DELETE /api/v1/keys/{key_id}" not in labels


def test_no_server_errors(fuzz_env: Env) -> None:
    failures: list[str] = []
    for operation in _operations(fuzz_env):

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(headers=fuzz_env.headers("admin"))
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

        check()
    assert failures == [], "\n".join(failures[:20])
