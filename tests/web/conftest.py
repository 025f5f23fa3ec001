"""The service over the seeded catalog for the web page tests, and a live server for the browser.

``live`` serves the app with uvicorn in a thread on a free local port, for Playwright;
``browser`` is the system Chromium, headless (tests using it are skipped without it), and
``page`` a fresh page of it that fails the test on a JavaScript error or a CSP violation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"needs the system Chromium ({CHROMIUM})")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # a Content-Security-Policy violation is reported on the console, not as a page error
    page.on("console", lambda message: _console_error(message, errors))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors or CSP violations: {errors}"


def _console_error(message: Any, errors: list[str]) -> None:
    """Keep a console error (CSP violations land here), except the browser's favicon probe."""
    url = str((message.location or {}).get("url", ""))
    if message.type == "error" and not url.endswith("/favicon.ico"):
        errors.append(f"{message.text} ({url})")
