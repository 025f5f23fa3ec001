"""An archive's HTTP answer, or an `OnlineServiceError` naming the request and the problem.

Shared by the archive clients that speak HTTP themselves (no maintained Python client:
STScI's PS1 cutout service, IRSA's IBE): a connection failure or timeout, or a status other
than 200, is an error naming ``where`` and the service, with the start of the answer.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from astrid.errors import OnlineServiceError

__all__ = ["get_ok"]


def get_ok(
    url: str, params: Mapping[str, str], *, timeout: float, where: str, service: str
) -> httpx.Response:
    """A GET of ``url`` that answered 200 (redirects followed), or `OnlineServiceError`."""
    try:
        response = httpx.get(url, params=dict(params), timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as e:
        raise OnlineServiceError(f"{where}: {type(e).__name__} ({e})", service=service) from e
    if response.status_code != 200:
        raise OnlineServiceError(
            f"{where}: HTTP {response.status_code}, {response.text[:200]!r}", service=service
        )
    return response
