"""A local webhook endpoint for tests: records requests; can answer 500 or hang."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver(ThreadingHTTPServer):
    """Records ``(headers, JSON body, raw body)`` of each POST; ``status`` and ``hang_s``
    say how it answers."""

    daemon_threads = True

    def __init__(self, status: int = 204, hang_s: float = 0.0) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any], bytes]] = []
        self.status = status
        self.hang_s = hang_s
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def alert_ids(self) -> list[int]:
        return [int(body["alert_id"]) for _, body, _ in self.requests]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.server.hang_s:
            time.sleep(self.server.hang_s)
        self.server.requests.append((dict(self.headers.items()), json.loads(raw), raw))
        try:
            self.send_response(self.server.status)
            self.end_headers()
        except OSError:
            pass  # the client gave up (timeout)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def receiving(status: int = 204, hang_s: float = 0.0) -> Iterator[Receiver]:
    """A running `Receiver`, shut down and closed afterwards."""
    server = Receiver(status, hang_s)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
