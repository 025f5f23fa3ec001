"""The signing keys of an OIDC provider, fetched from its JWKS URL and cached.

Keys are looked up by the token's ``kid``. The set is fetched on first use, kept for
``ttl_seconds``, and fetched again early when a token names a key the cached set lacks
(the provider rotated its keys), at most once per ``min_refetch_seconds`` so that forged
``kid`` values cannot make the service hammer the provider. The fetcher is injectable:
tests serve a JWKS from a local server or hand one over directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

__all__ = ["Fetcher", "JwksCache", "JwksUnavailableError", "http_fetcher"]

logger = logging.getLogger(__name__)

Fetcher = Callable[[str], dict[str, Any]]


class JwksUnavailableError(Exception):
    """The key set could not be fetched or parsed."""


def http_fetcher(url: str, *, timeout: float = 5.0) -> dict[str, Any]:
    """GET ``url`` and return its JSON body (the JWKS document).

    Raises
    ------
    JwksUnavailableError
        On a network error, a non-2xx status or a body that is not a JSON object.
    """
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=False)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as e:
        raise JwksUnavailableError(f"cannot fetch the JWKS at {url}: {e}") from e
    if not isinstance(body, dict):
        raise JwksUnavailableError(f"the JWKS at {url} is not a JSON object")
    return body


class JwksCache:
    """Thread-safe cache of a JWKS, keyed by ``kid``.

    Parameters
    ----------
    url : str
        The provider's JWKS URL.
    fetcher : callable, optional
        ``fetcher(url) -> dict``; defaults to `http_fetcher`.
    ttl_seconds, min_refetch_seconds : float
        How long a fetched set is trusted; the least time between two fetches.
    """

    def __init__(
        self,
        url: str,
        *,
        fetcher: Fetcher | None = None,
        ttl_seconds: float = 600.0,
        min_refetch_seconds: float = 30.0,
    ) -> None:
        self.url = url
        self._fetch = fetcher or http_fetcher
        self._ttl = ttl_seconds
        self._min_refetch = min_refetch_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        document = self._fetch(self.url)
        try:
            key_set = jwt.PyJWKSet.from_dict(document)
        except jwt.PyJWTError as e:
            raise JwksUnavailableError(f"the JWKS at {self.url} has no usable key: {e}") from e
        self._keys = {str(k.key_id): k for k in key_set.keys if k.key_id is not None}
        self._fetched_at = time.monotonic()
        logger.info("fetched %d signing keys from %s", len(self._keys), self.url)

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The key with id ``kid``, refetching the set when stale or missing it.

        Raises
        ------
        JwksUnavailableError
            When the set must be fetched and cannot be.
        """
        with self._lock:
            now = time.monotonic()
            age = None if self._fetched_at is None else now - self._fetched_at
            if age is None or age > self._ttl:
                self._refresh()
            elif kid not in self._keys and age > self._min_refetch:
                self._refresh()
            return self._keys.get(kid)
