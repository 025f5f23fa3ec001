"""`astrid keys create/list/revoke` and `astrid serve`'s first start."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from astrid.catalog import Catalog, connect
from astrid.catalog.access import audit_log, list_api_keys
from astrid.cli import app
from astrid.service.auth import Authenticator, AuthError

runner = CliRunner()
KEY = re.compile(r"astrid_[A-Za-z0-9_-]{43}")


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    # the commands reconfigure the root logger; leave it as pytest set it
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def opened() -> Iterator[list[Catalog]]:
    """Catalogs a test opens to look, closed after it."""
    catalogs: list[Catalog] = []
    yield catalogs
    for catalog in catalogs:
        catalog.close()


def _auth(data: Path, opened: list[Catalog]) -> Authenticator:
    catalog = connect(f"sqlite:///{data / 'astrid.sqlite'}")
    opened.append(catalog)
    return Authenticator(catalog, secret="x" * 40)


def test_keys_create_list_revoke(tmp_path: Path, opened: list[Catalog]) -> None:
    data = ["--data-dir", str(tmp_path)]
    created = runner.invoke(app, ["keys", "create", "ann", "--role", "curator", *data])
    assert created.exit_code == 0, created.output
    key = KEY.search(created.output)
    assert key is not None
    auth = _auth(tmp_path, opened)
    assert auth.from_api_key(key.group()).role == "curator"

    listed = runner.invoke(app, ["keys", "list", *data])
    assert listed.exit_code == 0 and "ann" in listed.output and "curator" in listed.output
    assert key.group() not in listed.output, "a key is shown once"

    key_id = list_api_keys(auth._catalog)[0].id
    revoked = runner.invoke(app, ["keys", "revoke", str(key_id), *data])
    assert revoked.exit_code == 0, revoked.output
    with pytest.raises(AuthError):
        auth.from_api_key(key.group())
    actions = [e.action for e in audit_log(auth._catalog)]
    assert actions == ["key.revoke", "key.create"]
    assert all(e.actor == "astrid keys" for e in audit_log(auth._catalog))


def test_keys_errors_exit_2(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    bad_role = runner.invoke(app, ["keys", "create", "ann", "--role", "root", *data])
    assert bad_role.exit_code == 2 and "role must be one of" in bad_role.output
    missing = runner.invoke(app, ["keys", "revoke", "42", *data])
    assert missing.exit_code == 2 and "no API key with id 42" in missing.output


def test_serve_creates_and_prints_an_admin_key_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opened: list[Catalog]
) -> None:
    import uvicorn

    served: list[dict[str, Any]] = []

    def fake_run(asgi: Any, **kwargs: Any) -> None:
        served.append({"app": asgi, **kwargs})

    monkeypatch.setattr(uvicorn, "run", fake_run)
    args = ["serve", "--data-dir", str(tmp_path), "--port", "8123"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    key = KEY.search(first.output)
    assert key is not None and "First start" in first.output
    assert served[0]["port"] == 8123 and served[0]["host"] == "127.0.0.1"
    assert _auth(tmp_path, opened).from_api_key(key.group()).role == "admin"

    second = runner.invoke(app, args)
    assert second.exit_code == 0
    assert KEY.search(second.output) is None, "only the first start prints a key"
    assert len(list_api_keys(_auth(tmp_path, opened)._catalog)) == 1
