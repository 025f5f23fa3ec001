"""The service over the seeded catalog (`service_env`), with a key of each role.

``env`` is built once per module (most tests only read); tests that write and count what
they wrote use ``fresh``, a private copy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from service_env import Env, build_env


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings come from ASTRID_* variables: the caller's must not leak into these tests.
    for name in list(os.environ):
        if name.startswith("ASTRID_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from build_env(tmp_path_factory.mktemp("service"))


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Env]:
    yield from build_env(tmp_path / "service")
