"""Request rate limits and the failed-login back-off, kept in this process.

Two guards, both in memory:

- `RateLimiter`: a token bucket per client IP and per presented credential (API key,
  bearer token or session cookie, by fingerprint): ``per_minute`` requests a minute on
  average, bursts up to ``per_minute``. Past it a request gets 429 with ``Retry-After``
  (`RateLimitMiddleware`). Static files are not counted.
- `LoginBackoff`: failed authentications (a wrong API key or bearer token, on the API or
  the login form) per client IP and per presented credential. The first ``free_failures``
  cost nothing; each further one locks that IP (credential) out for twice as long as the
  last, from 1 s up to ``max_seconds``: every attempt while locked gets 429 with
  ``Retry-After``, before the credential is even looked at. A success clears the count
  of its IP and credential; counts are forgotten ``max_seconds`` after the last failure.

Each process (each replica behind a load balancer) counts on its own, so N replicas allow
N times the rate. At scale, the same counters belong in a store all replicas share (Redis
``INCR``/``EXPIRE`` or a token bucket in a Lua script), or in the proxy in front
(nginx ``limit_req``, Envoy's rate-limit service). Behind a proxy, run uvicorn with
``--proxy-headers --forwarded-allow-ips`` so the client IP is the caller's, not the
proxy's.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "LoginBackoff",
    "RateLimitMiddleware",
    "RateLimiter",
    "client_ip",
    "credential_fingerprint",
    "presented_credential",
    "retry_after_header",
]

Clock = Callable[[], float]
# Past this many tracked clients, idle entries are dropped (memory stays bounded).
_MAX_ENTRIES = 100_000
_SESSION_COOKIE = "astrid_session"


def credential_fingerprint(credential: str) -> str:
    """A short digest naming a presented credential (the credential is never kept)."""
    return hashlib.sha256(credential.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets: ``per_minute`` requests a minute per key, bursts up to ``per_minute``.

    Parameters
    ----------
    per_minute : float
    clock : callable
        Seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, per_minute: float, *, clock: Clock = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError(f"per_minute must be positive, got {per_minute}")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def hit(self, keys: Sequence[str]) -> float:
        """Count one request against every key; 0 if allowed, else seconds to wait.

        A refused request uses none of the keys' allowance.
        """
        now = self._clock()
        with self._lock:
            if len(self._buckets) > _MAX_ENTRIES:
                self._forget_full(now)
            buckets = [self._refilled(key, now) for key in keys]
            short = [b for b in buckets if b.tokens < 1.0]
            if short:
                return max((1.0 - b.tokens) / self.rate for b in short)
            for bucket in buckets:
                bucket.tokens -= 1.0
            return 0.0

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        else:
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.rate)
            bucket.updated = now
        return bucket

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (the same as never seen)."""
        for key in [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.capacity
        ]:
            del self._buckets[key]


@dataclass
class _Failures:
    count: int
    last: float
    locked_until: float


class LoginBackoff:
    """Exponential lock-out after repeated failed authentications, per IP and credential.

    Parameters
    ----------
    free_failures : int
        Failures that cost nothing (typos).
    max_seconds : float
        Longest lock-out; counts are forgotten this long after the last failure.
    base_seconds : float
        The first lock-out; each further failure doubles it.
    clock : callable
        Seconds, monotonic.
    """

    def __init__(
        self,
        *,
        free_failures: int = 10,
        max_seconds: float = 900.0,
        base_seconds: float = 1.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.max_seconds = max_seconds
        self.base_seconds = base_seconds
        self._clock = clock
        self._entries: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(ip: str, credential: str | None) -> list[str]:
        keys = [f"ip:{ip}"]
        if credential:
            keys.append(f"cred:{credential_fingerprint(credential)}")
        return keys

    def retry_after(self, ip: str, credential: str | None) -> float:
        """Seconds until this IP and credential may try again; 0 when they may now."""
        now = self._clock()
        with self._lock:
            waits = [
                entry.locked_until - now
                for key in self._keys(ip, credential)
                if (entry := self._entries.get(key)) is not None
            ]
        return max([0.0, *waits])

    def failed(self, ip: str, credential: str | None) -> None:
        """Count a failed attempt; past the free ones, lock out for longer each time."""
        now = self._clock()
        with self._lock:
            if len(self._entries) > _MAX_ENTRIES:
                self._forget_old(now)
            for key in self._keys(ip, credential):
                entry = self._entries.get(key)
                if entry is None or now - entry.last > self.max_seconds:
                    entry = self._entries[key] = _Failures(0, now, now)
                entry.count += 1
                entry.last = now
                excess = entry.count - self.free_failures
                if excess > 0:
                    delay = min(self.max_seconds, self.base_seconds * 2.0 ** min(excess - 1, 60))
                    entry.locked_until = max(entry.locked_until, now + delay)

    def succeeded(self, ip: str, credential: str | None) -> None:
        """Clear the counts of this IP and credential (a successful login)."""
        with self._lock:
            for key in self._keys(ip, credential):
                self._entries.pop(key, None)

    def _forget_old(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if now - e.last > self.max_seconds]:
            del self._entries[key]


def client_ip(scope: Scope) -> str:
    """The client's IP as the server sees it (the proxy's, unless proxy headers are on)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def presented_credential(headers: dict[str, str], cookies: dict[str, str]) -> str | None:
    """The credential a request presents: API key, bearer token or session cookie."""
    key = headers.get("x-api-key")
    if key:
        return key
    authorization = headers.get("authorization")
    if authorization:
        return authorization.partition(" ")[2].strip() or authorization
    return cookies.get(_SESSION_COOKIE) or None


def _cookies(raw: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in raw.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            found[name] = value
    return found


class RateLimitMiddleware:
    """ASGI middleware refusing requests past the `RateLimiter` with 429 + Retry-After.

    Counts each request against its client IP and, when it presents one, its credential.
    Static files are not counted (a page loads several).
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith("/static/"):
            await self.app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers", [])
        }
        keys = [f"ip:{client_ip(scope)}"]
        credential = presented_credential(headers, _cookies(headers.get("cookie", "")))
        if credential:
            keys.append(f"cred:{credential_fingerprint(credential)}")
        wait = self.limiter.hit(keys)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {"detail": f"too many requests; retry in {retry_after_header(wait)} s"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", retry_after_header(wait).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
