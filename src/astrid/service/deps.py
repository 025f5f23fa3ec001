"""FastAPI dependencies of both front ends: the service and who is calling.

`ServiceDep` is the app's `Service`. `authenticate` reads the caller's credentials from a
request (API key, bearer token, or the web page's session cookie); the API turns its
failures into 401/403 responses (`astrid.api.deps`), the web page into a login redirect.
Cookie-authenticated writes must also carry the session's ``X-CSRF-Token`` (403 otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from astrid.service.auth import SESSION_COOKIE, Authenticator, AuthError, Principal
from astrid.service.rate_limit import LoginBackoff, retry_after_header
from astrid.service.state import Service

__all__ = ["CSRF_HEADER", "ServiceDep", "authenticate", "checked_credential", "get_service"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


def get_service(request: Request) -> Service:
    """The app's service."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def authenticate(
    request: Request, auth: Authenticator, backoff: LoginBackoff | None = None
) -> Principal:
    """The caller of ``request`` from its headers or session cookie.

    With ``backoff``, an API key or bearer token that fails counts against the client's
    IP and that credential, and a request from a locked-out IP or with a locked-out
    credential is refused (429) before it is checked. Session cookies are signed by this
    service and not counted.

    Raises
    ------
    AuthError
        401 without valid credentials (or 503 when they cannot be checked); 403 for a
        cookie-authenticated write without the session's anti-CSRF token; 429 while
        locked out after failed attempts.
    """
    key = request.headers.get("X-API-Key")
    authorization = request.headers.get("Authorization")
    if key or authorization:
        # the same fingerprint whether a token comes as a header or through the login form
        presented = key or (authorization or "").partition(" ")[2].strip() or authorization
        return checked_credential(
            request, backoff, presented or "", lambda: _from_headers(auth, request)
        )
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = auth.from_session(cookie)
        if request.method not in _SAFE_METHODS and not auth.csrf_matches(
            principal, request.headers.get(CSRF_HEADER)
        ):
            raise AuthError(403, f"a write with a session cookie needs the {CSRF_HEADER} header")
        return principal
    raise AuthError(401, "authentication required: an API key or a bearer token")


def _from_headers(auth: Authenticator, request: Request) -> Principal:
    key = request.headers.get("X-API-Key")
    if key:
        return auth.from_api_key(key)
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise AuthError(401, "Authorization header must be 'Bearer <token or API key>'")
    return auth.from_bearer(credentials.strip())


def checked_credential(
    request: Request,
    backoff: LoginBackoff | None,
    credential: str,
    check: Callable[[], Principal],
) -> Principal:
    """``check()`` the presented ``credential`` under the failed-login back-off.

    Raises
    ------
    AuthError
        429 (with ``retry_after``) while the client's IP or this credential is locked
        out; whatever ``check`` raises otherwise, a 401 counted as a failure.
    """
    if backoff is None:
        return check()
    ip = request.client.host if request.client else "unknown"
    wait = backoff.retry_after(ip, credential)
    if wait > 0:
        raise AuthError(
            429,
            f"too many failed logins; retry in {retry_after_header(wait)} s",
            retry_after=wait,
        )
    try:
        principal = check()
    except AuthError as e:
        if e.status == 401:
            backoff.failed(ip, credential)
        raise
    backoff.succeeded(ip, credential)
    return principal
