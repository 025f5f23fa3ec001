"""A local HTTP server on a free port, standing in for an archive the tests cannot reach."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

__all__ = ["Answer", "serving", "stand_in_server"]

#: ``(path, query) -> (status, content type, body)`` of one GET.
Answer = Callable[[str, dict[str, str]], tuple[int, str, bytes]]


def stand_in_server(answer: Answer) -> ThreadingHTTPServer:
    """A server (not yet serving) on 127.0.0.1 that answers every GET with ``answer``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            status, kind, body = answer(url.path, query)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[None]:
    """Serve in a thread for the block; stopped and closed after (a test may stop it
    earlier to make the archive unreachable)."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
