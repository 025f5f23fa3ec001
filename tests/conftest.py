"""Test-suite setup: makes the shared helpers in this folder (small_field.py) importable, and
with ``ASTRID_FAIL_ON_SKIP=1`` (set by scripts/test.sh in CI) turns any skipped test into a
failure of the run: CI installs everything the suite needs, so a skip there means a test
silently stopped running."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from postgres_server import postgres_server  # a fixture for every test folder
from s3_server import s3_server  # likewise
from server_catalog import backend, redirect_catalogs, redirect_stores, store_backend

redirect_catalogs()  # ASTRID_TEST_CATALOG=postgresql: the file catalogs become PostgreSQL
redirect_stores()  # ASTRID_TEST_STORE=s3: the local stores become S3 buckets

__all__ = ["postgres_server", "s3_server"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a PostgreSQL catalog, leave out the tests of SQLite itself (``@pytest.mark.sqlite``);
    on an S3 store, those of the local store (``@pytest.mark.local_store``); reported as
    deselected (not skipped: CI fails on skips)."""
    marks = {"sqlite"} if backend() == "postgresql" else set()
    marks |= {"local_store"} if store_backend() == "s3" else set()
    left_out = [item for item in items if any(item.get_closest_marker(m) for m in marks)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("ASTRID_FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == 0:
        reporter.ensure_newline()
        for report in skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            reporter.write_line(f"SKIPPED in CI (not allowed): {report.nodeid}: {reason}")
        reporter.write_line(f"{len(skipped)} skipped, 0 expected in CI (ASTRID_FAIL_ON_SKIP=1)")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
