"""Alerts POSTed as signed JSON to an HTTP(S) endpoint, one request per alert.

The body is a JSON object::

    {"alert_id": 123, "fields": {...}, "summary": "..." | null,
     "sidecar": {...}, "packet_avro_base64": "..."}

and the request carries ``Content-Type: application/json``, ``X-AstrID-Alert-Id``,
``X-AstrID-Timestamp`` (unix seconds) and ``X-AstrID-Signature: sha256=<hex>``, the
HMAC-SHA256 with the shared secret of ``f"{timestamp}.".encode() + body`` (the scheme of
Stripe's and GitHub's webhooks, `astrid.delivery.signature`). A receiver checks it with
`astrid.delivery.verify_signature`, which also refuses timestamps older than a tolerance, so
a captured request cannot be replayed later.

Time: every phase of a request (connecting, waiting for a pooled connection, each write,
each read) is bounded by ``timeout``, and the response body is read only up to a short
snippet for error messages. After the first failure that retrying could cure (a timeout, a
refused connection, a 5xx, 408 or 429) the rest of the batch is not attempted: a dead
endpoint costs one timeout per `WebhookDestination.send`, not one per alert.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from astrid import __version__
from astrid.delivery.outgoing import Outcome, OutgoingAlert
from astrid.delivery.signature import (
    WEBHOOK_ALERT_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
    sign,
)
from astrid.errors import ConfigurationError

__all__ = ["WebhookDestination", "request_body"]

log = logging.getLogger(__name__)

#: HTTP statuses after which the same request may succeed later.
RETRYABLE_STATUSES = frozenset({408, 429})

#: Bytes of an error response kept for the outcome's message.
_SNIPPET_BYTES = 300


def _json_default(value: Any) -> Any:
    """JSON for numpy scalars and other values of alert fields."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def request_body(alert: OutgoingAlert) -> bytes:
    """The JSON body posted for one alert (raises ValueError for an unparsable sidecar)."""
    fields = json.loads(json.dumps(dict(alert.fields), default=_json_default))
    payload = {
        "alert_id": alert.alert_id,
        "fields": _finite(fields),
        "summary": alert.summary,
        "sidecar": json.loads(alert.sidecar),
        "packet_avro_base64": base64.b64encode(alert.avro).decode("ascii"),
    }
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


class WebhookDestination:
    """POST each alert as signed JSON to one URL.

    Parameters
    ----------
    url : str
        The endpoint, ``http://`` or ``https://``.
    secret : str
        The shared secret that signs each request (never logged).
    timeout : float
        Seconds allowed for each phase of a request (connect, pool, write, read).
    client : httpx.Client, optional
        A client to send with (proxies, TLS settings, tests); by default one is opened for
        each `send` and closed after it. ``timeout`` applies to either.

    Raises
    ------
    ConfigurationError
        For a URL that is not http(s) with a host (``field="url"``), an empty secret
        (``field="secret"``) or a timeout that is not a positive number (``field="timeout"``).
    """

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
    ) -> None:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as e:
            raise ConfigurationError(
                f"webhook destination: url {url!r} is invalid: {e}", field="url", url=url
            ) from e
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ConfigurationError(
                f"webhook destination: url must be http:// or https:// with a host, got {url!r}",
                field="url",
                url=url,
            )
        if not secret:
            raise ConfigurationError(
                f"webhook destination {url}: secret is empty; requests must be signed",
                field="secret",
            )
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise ConfigurationError(
                f"webhook destination {url}: timeout must be a positive number of seconds, "
                f"got {timeout!r}",
                field="timeout",
            )
        self.url = url
        # Credentials in the URL stay out of names, logs and outcomes.
        shown = str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else url
        self.name = f"webhook {shown}"
        self.timeout = float(timeout)
        self._secret = secret
        self._client = client

    def _snippet(self, response: httpx.Response, start: float) -> bytes:
        """The start of an error response's body, for the outcome's message."""
        snippet = b""
        try:
            for chunk in response.iter_bytes():
                snippet += chunk
                # A server trickling its error page must not hold the batch.
                if len(snippet) >= _SNIPPET_BYTES or time.monotonic() - start > self.timeout:
                    break
        except httpx.HTTPError:
            pass  # the status says enough; a body cut short or undecodable adds nothing
        return snippet[:_SNIPPET_BYTES]

    def _post(self, client: httpx.Client, alert: OutgoingAlert, body: bytes) -> Outcome:
        """One request; its outcome (never raising for the endpoint's failures)."""
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"AstrID/{__version__} (alert webhook)",
            WEBHOOK_ALERT_ID_HEADER: str(alert.alert_id),
            WEBHOOK_TIMESTAMP_HEADER: str(timestamp),
            WEBHOOK_SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        timeout = httpx.Timeout(self.timeout)
        start = time.monotonic()
        try:
            with client.stream(
                "POST", self.url, content=body, headers=headers, timeout=timeout
            ) as response:
                status = response.status_code
                snippet = b"" if response.is_success else self._snippet(response, start)
        except httpx.TimeoutException as e:
            error = f"{self.name}: no answer within {self.timeout:g} s ({type(e).__name__})"
            return Outcome(alert.alert_id, delivered=False, error=error, retry=True)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
            error = f"{self.name}: invalid URL: {e}"
            return Outcome(alert.alert_id, delivered=False, error=error, retry=False)
        except httpx.HTTPError as e:
            error = f"{self.name}: {type(e).__name__}: {e}"
            return Outcome(alert.alert_id, delivered=False, error=error, retry=True)
        if 200 <= status < 300:
            return Outcome(alert.alert_id, delivered=True)
        text = snippet[:_SNIPPET_BYTES].decode("utf-8", "replace").strip()
        error = f"{self.name}: HTTP {status}" + (f": {text}" if text else "")
        retry = status >= 500 or status in RETRYABLE_STATUSES
        return Outcome(alert.alert_id, delivered=False, error=error, retry=retry)

    def _send_with(self, client: httpx.Client, alerts: Sequence[OutgoingAlert]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for i, alert in enumerate(alerts):
            try:
                body = request_body(alert)
            except (ValueError, TypeError) as e:
                error = f"{self.name}: alert {alert.alert_id} cannot be encoded as JSON: {e}"
                outcomes.append(Outcome(alert.alert_id, False, error=error, retry=False))
                continue
            outcome = self._post(client, alert, body)
            outcomes.append(outcome)
            if not outcome.delivered and outcome.retry:
                log.warning("%s; skipping the rest of the batch", outcome.error)
                skipped = f"not attempted: {self.name} failed earlier in this batch"
                outcomes.extend(
                    Outcome(a.alert_id, delivered=False, error=skipped, attempted=False)
                    for a in alerts[i + 1 :]
                )
                break
            if not outcome.delivered:
                log.warning("%s: %s", self.name, outcome.error)
        return outcomes

    def send(self, alerts: Sequence[OutgoingAlert]) -> list[Outcome]:
        """POST every alert; one `Outcome` per alert, in order, never raising.

        Parameters
        ----------
        alerts : sequence of OutgoingAlert
            The alerts to post.

        Returns
        -------
        list of Outcome
            2xx: delivered. A timeout, connection error, 5xx, 408 or 429: failed with
            ``retry=True``, and the alerts after it are not attempted (failed, ``retry=True``).
            Another status (4xx, 3xx): failed with ``retry=False``; the batch goes on.
        """
        if not alerts:
            return []
        if self._client is not None:
            return self._send_with(self._client, alerts)
        with httpx.Client(timeout=httpx.Timeout(self.timeout)) as client:
            return self._send_with(client, alerts)

    def __repr__(self) -> str:
        shown = self.name.removeprefix("webhook ")
        return f"WebhookDestination({shown!r}, secret=***, timeout={self.timeout:g})"
