"""The app's layers: `astrid.api` and `astrid.web` stand side by side on `astrid.service`.

Each import runs in a fresh interpreter, so what it loads is what it needs.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


def _astrid_modules_loaded_by(module: str) -> set[str]:
    code = (
        f"import sys, {module}\nprint('\\n'.join(m for m in sys.modules if m.startswith('astrid')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(done.stdout.split())


def _within(package: str, modules: set[str]) -> set[str]:
    return {m for m in modules if m == package or m.startswith(package + ".")}


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("astrid.web.pages", ("astrid.api",)),
        ("astrid.api.router", ("astrid.web",)),
        (
            "astrid.service.candidates, astrid.service.review, astrid.service.keys",
            ("astrid.api", "astrid.web"),
        ),
    ],
)
def test_layers_do_not_import_their_neighbours(module: str, forbidden: tuple[str, ...]) -> None:
    loaded = _astrid_modules_loaded_by(module)
    for package in forbidden:
        assert not _within(package, loaded), f"{module} loads {sorted(_within(package, loaded))}"


def test_the_factory_brings_both() -> None:
    loaded = _astrid_modules_loaded_by("astrid.app")
    assert {"astrid.api.router", "astrid.web.pages"} <= loaded
