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
from server_catalog import backend, redirect_catalogs

redirect_catalogs()  # ASTRID_TEST_CATALOG=postgresql: the file catalogs become PostgreSQL

__all__ = ["postgres_server", "s3_server"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a PostgreSQL catalog, leave out the tests of SQLite itself (``@pytest.mark.sqlite``),
    named in the report as deselected (not skipped: CI fails on skips)."""
    if backend() != "postgresql":
        return
    sqlite_only = [item for item in items if item.get_closest_marker("sqlite")]
    if sqlite_only:
        config.hook.pytest_deselected(items=sqlite_only)
        items[:] = [item for item in items if not item.get_closest_marker("sqlite")]


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
