"""The webhook destination against a real HTTP server on localhost (threads, port 0)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from astrid.delivery import WebhookDestination, verify_signature
from astrid.errors import ConfigurationError

SECRET = "whsec-test-secret"


@dataclass
class Recorder:
    """What the test server received, and how it should answer."""

    mode: str = "ok"  # ok | 500 | 400 | hang
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        rec = self.server.recorder
        rec.requests.append((dict(self.headers.items()), body))
        if rec.mode == "hang":
            # Longer than any client timeout; released when the test ends.
            rec.release.wait(30)
            self.close_connection = True
            return
        status = {"ok": 204, "500": 500, "400": 400}[rec.mode]
        reply = b"" if status == 204 else f"mode {rec.mode}".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    recorder: Recorder

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (the timeout tests) closes its end: expected


@pytest.fixture
def server() -> Iterator[tuple[str, Recorder]]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.recorder = Recorder()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", httpd.recorder
    finally:
        httpd.recorder.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_posts_signed_json(server, alerts):
    url, rec = server
    batch = alerts(2)
    before = int(time.time())
    outcomes = WebhookDestination(url, SECRET, timeout=2).send(batch)
    assert [o.delivered for o in outcomes] == [True, True]
    assert [o.alert_id for o in outcomes] == [a.alert_id for a in batch]
    assert len(rec.requests) == 2
    for (headers, body), alert in zip(rec.requests, batch, strict=True):
        headers = {k.lower(): v for k, v in headers.items()}
        assert headers["content-type"] == "application/json"
        assert headers["x-astrid-alert-id"] == str(alert.alert_id)
        ts = headers["x-astrid-timestamp"]
        assert before <= int(ts) <= time.time() + 1
        signature = headers["x-astrid-signature"]
        assert signature.startswith("sha256=")
        assert verify_signature(SECRET, signature, ts, body)
        assert not verify_signature("another secret", signature, ts, body)
        assert not verify_signature(SECRET, signature, ts, body + b" ")
        assert not verify_signature(SECRET, signature, int(ts) - 1, body)
        assert not verify_signature(SECRET, signature, ts, body, now=int(ts) + 301)
        payload = json.loads(body)
        assert set(payload) == {"alert_id", "fields", "summary", "sidecar", "packet_avro_base64"}
        assert payload["alert_id"] == alert.alert_id
        assert payload["fields"] == dict(alert.fields)
        assert payload["summary"] == alert.summary
        assert payload["sidecar"] == json.loads(alert.sidecar)
        assert base64.b64decode(payload["packet_avro_base64"]) == alert.avro


def test_a_5xx_stops_the_batch(server, alerts):
    url, rec = server
    rec.mode = "500"
    outcomes = WebhookDestination(url, SECRET, timeout=2).send(alerts(4))
    assert len(rec.requests) == 1
    assert not any(o.delivered for o in outcomes)
    assert all(o.retry for o in outcomes)
    assert "HTTP 500" in outcomes[0].error and url in outcomes[0].error
    assert outcomes[0].attempted and not any(o.attempted for o in outcomes[1:])
    for o in outcomes[1:]:
        assert o.error == f"not attempted: webhook {url} failed earlier in this batch"


def test_a_4xx_is_final_and_the_batch_goes_on(server, alerts):
    url, rec = server
    rec.mode = "400"
    outcomes = WebhookDestination(url, SECRET, timeout=2).send(alerts(3))
    assert len(rec.requests) == 3
    assert all(not o.delivered and not o.retry for o in outcomes)
    assert all("HTTP 400: mode 400" in o.error for o in outcomes)


def test_a_hanging_server_costs_one_timeout_per_batch(server, alerts):
    url, rec = server
    rec.mode = "hang"
    timeout = 0.5
    start = time.monotonic()
    outcomes = WebhookDestination(url, SECRET, timeout=timeout).send(alerts(5))
    elapsed = time.monotonic() - start
    assert elapsed < 3 * timeout, elapsed  # a safety bound: about one timeout is expected
    assert len(rec.requests) == 1
    assert len(outcomes) == 5 and not any(o.delivered for o in outcomes)
    assert all(o.retry for o in outcomes)
    assert "no answer within 0.5 s" in outcomes[0].error and url in outcomes[0].error
    assert all(o.error.startswith("not attempted") for o in outcomes[1:])


def test_a_refused_connection_is_retryable(closed_port, alerts):
    url = f"http://127.0.0.1:{closed_port}/hook"
    outcomes = WebhookDestination(url, SECRET, timeout=1).send(alerts(3))
    assert all(not o.delivered and o.retry for o in outcomes)
    assert url in outcomes[0].error and "Connect" in outcomes[0].error
    assert outcomes[2].error.startswith("not attempted")


@pytest.mark.parametrize(
    ("status", "retry", "stops"),
    [
        (429, True, True),
        (408, True, True),
        (404, False, False),
        (302, False, False),
        (503, True, True),
    ],
)
def test_status_mapping_with_an_injected_client(alerts, status, retry, stops):
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, text="nope")

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        dest = WebhookDestination("https://example.org/h", SECRET, client=client)
        outcomes = dest.send(alerts(2))
    assert [o.retry for o in outcomes] == [retry, retry]
    assert f"HTTP {status}: nope" in outcomes[0].error
    assert len(seen) == (1 if stops else 2)


def test_an_unreadable_sidecar_fails_only_its_alert(alerts):
    batch = alerts(2)
    broken = type(batch[0])(batch[0].alert_id, batch[0].avro, b"not json")
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200))) as client:
        outcomes = WebhookDestination("https://x.org/", SECRET, client=client).send(
            [broken, batch[1]]
        )
    assert not outcomes[0].delivered and not outcomes[0].retry
    assert outcomes[1].delivered


def test_non_finite_and_numpy_fields_are_valid_json(alerts):
    np = pytest.importorskip("numpy")
    bodies = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200)

    alert = alerts(1)[0]
    odd = type(alert)(
        alert.alert_id,
        alert.avro,
        alert.sidecar,
        {"rb": np.float32(0.5), "mag": float("nan"), "n": np.int64(3)},
    )
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        assert WebhookDestination("https://x.org/", SECRET, client=client).send([odd])[0].delivered
    assert json.loads(bodies[0])["fields"] == {"rb": 0.5, "mag": None, "n": 3}


def test_credentials_in_the_url_are_not_shown(closed_port, alerts):
    url = f"http://bot:hunter2@127.0.0.1:{closed_port}/hook"
    dest = WebhookDestination(url, SECRET, timeout=1)
    outcome = dest.send(alerts(1))[0]
    assert not outcome.delivered
    for text in (dest.name, repr(dest), outcome.error):
        assert "hunter2" not in text and SECRET not in text
    assert f"127.0.0.1:{closed_port}/hook" in dest.name


@pytest.mark.parametrize(
    ("url", "secret", "timeout", "field"),
    [
        ("ftp://example.org/x", "s", 5.0, "url"),
        ("example.org/x", "s", 5.0, "url"),
        ("http://", "s", 5.0, "url"),
        ("https://example.org/x", "", 5.0, "secret"),
        ("https://example.org/x", "s", 0, "timeout"),
    ],
)
def test_configuration_errors(url, secret, timeout, field):
    with pytest.raises(ConfigurationError, match=field) as info:
        WebhookDestination(url, secret, timeout=timeout)
    assert info.value.field == field
