"""A running service over the seeded catalog, for the API and web page tests.

`build_env` opens a service on a fresh data dir, seeds it (`service_catalog.seed`), makes
one API key per role and serves the app through a test client (its lifespan runs, the
job worker does not: tests drive it with ``service.worker.run_once()``).
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi.testclient import TestClient

from astrid.app import create_app, open_service
from astrid.catalog.access import create_api_key
from astrid.config import Settings
from astrid.service.state import Service
from service_catalog import Seeded, seed

ROLES = ("viewer", "curator", "admin")


@dataclass
class Env:
    """A running app, its service, the seeded ids and one API key per role."""

    client: TestClient
    service: Service
    seeded: Seeded  # empty ids when built with seed_catalog=False
    keys: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        """Request headers authenticating as ``role``."""
        return {"X-API-Key": self.keys[role]}


NOTHING_SEEDED = Seeded(reference_id=0, science_ids=(0, 0), run_ids=(0, 0), candidate_ids=())


def build_env(
    root: Path, *, jwks_fetcher: Any = None, seed_catalog: bool = True, **settings: Any
) -> Iterator[Env]:
    """Open a service on ``root``, seed it (unless told not to), serve it with a test client."""
    service = open_service(Settings(data_dir=root, **settings), jwks_fetcher=jwks_fetcher)
    seeded = seed(service.catalog, service.store) if seed_catalog else NOTHING_SEEDED
    keys = {
        role: create_api_key(service.catalog, name=f"{role}-user", role=role, actor="test")[0]
        for role in ROLES
    }
    app = create_app(service=service, run_worker=False)
    with TestClient(app) as client:
        yield Env(client=client, service=service, seeded=seeded, keys=keys)


@dataclass
class Live:
    """A service served over HTTP at ``url`` (for a browser)."""

    env: Env
    url: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_live(env: Env) -> Iterator[Live]:
    """Serve ``env``'s app with uvicorn in a thread on a free local port."""
    port = _free_port()
    config = uvicorn.Config(
        env.client.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    ready = threading.Event()
    for _ in range(500):  # up to 10 s
        if server.started:
            break
        if not thread.is_alive():
            raise RuntimeError("the test server did not start")
        ready.wait(0.02)
    else:
        raise RuntimeError("the test server did not start in 10 s")
    try:
        yield Live(env=env, url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(10)


def login(client: TestClient, key: str) -> str:
    """Log ``client`` in to the web pages with ``key``; returns the session's anti-CSRF token."""
    r = client.post("/login", data={"credential": key}, follow_redirects=False)
    assert r.status_code == 303, r.text
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/").text)
    assert token is not None
    return token.group(1)
