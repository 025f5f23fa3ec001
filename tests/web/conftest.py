"""The service over the seeded catalog for the web page tests, and a live server for the browser.

``live`` serves the app with uvicorn in a thread on a free local port, for Playwright.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from service_env import Env, Live, build_env, serve_live


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings come from ASTRID_* variables: the caller's must not leak into these tests.
    for name in list(os.environ):
        if name.startswith("ASTRID_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from build_env(tmp_path_factory.mktemp("web"))


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Env]:
    yield from build_env(tmp_path / "web")


@pytest.fixture
def live(fresh: Env) -> Iterator[Live]:
    with serve_live(fresh) as served:
        yield served


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where test artifacts (screenshots) go: $TEST_ARTIFACTS, else a pytest temp folder."""
    given = os.environ.get("TEST_ARTIFACTS")
    folder = Path(given) if given else tmp_path_factory.mktemp("artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
