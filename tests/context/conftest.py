"""A local stand-in for the online services: an HTTP server on 127.0.0.1 that answers with
recorded responses (tests/context/recorded/: synthetic values in each service's real
format) and records every request, so the online tests never reach the network."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

RECORDED = Path(__file__).parent / "recorded"

VOTABLE = "application/x-votable+xml"
JSON = "application/json"


@dataclass
class Answer:
    """What the server sends for a path: a body, its type and status, after a delay."""

    body: bytes
    content_type: str = VOTABLE
    status: int = 200
    delay_s: float = 0.0


@dataclass
class Request:
    """One request the server got: path, query/form parameters, headers."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class RecordedServer:
    """Routes (path → answer, or a function of the request) and the requests seen."""

    url: str = ""
    routes: dict[str, Answer | Callable[[Request], Answer]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def serve(self, path: str, answer: Answer | Callable[[Request], Answer]) -> None:
        self.routes[path] = answer

    def serve_file(self, path: str, name: str, *, status: int = 200, delay_s: float = 0) -> None:
        """Answer with a recorded file (JSON or VOTable by its suffix)."""
        content_type = JSON if name.endswith(".json") else VOTABLE
        self.routes[path] = Answer((RECORDED / name).read_bytes(), content_type, status, delay_s)

    def serve_body(
        self, path: str, body: str | bytes | dict, *, content_type: str = "", status: int = 200
    ) -> None:
        """Answer with a body given here: a dict as JSON, text or bytes as VOTable."""
        if isinstance(body, dict):
            body, content_type = json.dumps(body), content_type or JSON
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Answer(data, content_type or VOTABLE, status)

    def serve_by_query(self, path: str, files: dict[str, str]) -> None:
        """Answer with the file whose key the ADQL ``QUERY`` contains."""

        def answer(request: Request) -> Answer:
            query = request.params.get("QUERY", "")
            name = next(name for key, name in files.items() if key in query)
            return Answer((RECORDED / name).read_bytes())

        self.routes[path] = answer

    def seen(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def recorded_server() -> Iterator[RecordedServer]:
    """A server on a free local port; ``server.url`` is its base."""
    state = RecordedServer()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: bytes) -> None:
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            params.update({k: v[-1] for k, v in parse_qs(body.decode()).items()})
            request = Request(parts.path, params, {k.lower(): v for k, v in self.headers.items()})
            state.requests.append(request)
            route = state.routes.get(parts.path)
            if route is None:
                answer = Answer(b"not found", "text/plain", 404)
            else:
                answer = route(request) if callable(route) else route
            time.sleep(answer.delay_s)
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def do_GET(self) -> None:
            self._answer(b"")

        def do_POST(self) -> None:
            self._answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
