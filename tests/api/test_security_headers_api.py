"""Security headers on every response, no docs page from a CDN, no server banner."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import astrid.web
from astrid.cli import app
from service_env import Env

PATHS = [
    "/",
    "/login",
    "/candidates",
    "/api/v1/health",
    "/api/v1/candidates",
    "/api/v1/no-such-route",
    "/static/astrid.js",
    "/openapi.json",
    "/metrics",
]


@pytest.mark.parametrize("path", PATHS)
def test_every_response_has_the_security_headers(env: Env, path: str) -> None:
    client = TestClient(env.client.app)
    r = client.get(path, headers=env.headers("viewer"), follow_redirects=False)
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'", "no inline or eval'd script"
    assert directives["style-src"] == "'self'", "no inline style"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "server" not in r.headers


def test_the_docs_page_is_off_and_the_schema_is_served(env: Env) -> None:
    assert env.client.get("/api/docs").status_code == 404
    assert env.client.get("/openapi.json").json()["info"]["title"] == "AstrID"


def test_templates_and_static_files_need_no_inline_code() -> None:
    web = Path(astrid.web.__file__).parent
    for template in (web / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\ssrc=)", text), f"inline script in {template}"
        assert "<style" not in text, f"inline <style> in {template}"
        assert not re.search(r"\sstyle=", text), f"style attribute in {template}"
        assert not re.search(r"\son[a-z]+=", text), f"inline event handler in {template}"
        assert "hx-on" not in text and "js:" not in text, f"evaluated htmx code in {template}"
    base = (web / "templates" / "base.html").read_text()
    assert '"includeIndicatorStyles": false' in base, "htmx would insert a <style>"
    assert '"defaultSettleDelay": 0' in base


def test_serve_sends_no_server_banner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kwargs: served.append(kwargs))
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert served[0]["server_header"] is False
