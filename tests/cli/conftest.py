"""Shared set-up of the `astrid` command tests."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Settings come from ASTRID_* variables: the caller's must not leak into these tests.
    for name in list(os.environ):
        if name.startswith("ASTRID_"):
            monkeypatch.delenv(name)
    # The commands reconfigure the root logger (Rich handler); leave it as pytest set it.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
