"""FastAPI dependencies of both front ends: the service and who is calling.

`ServiceDep` is the app's `Service`. `authenticate` reads the caller's credentials from a
request (API key, bearer token, or the web page's session cookie); the API turns its
failures into 401/403 responses (`astrid.api.deps`), the web page into a login redirect.
Cookie-authenticated writes must also carry the session's ``X-CSRF-Token`` (403 otherwise).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from astrid.service.auth import SESSION_COOKIE, Authenticator, AuthError, Principal
from astrid.service.state import Service

__all__ = ["CSRF_HEADER", "ServiceDep", "authenticate", "get_service"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"


def get_service(request: Request) -> Service:
    """The app's service."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def authenticate(request: Request, auth: Authenticator) -> Principal:
    """The caller of ``request`` from its headers or session cookie.

    Raises
    ------
    AuthError
        401 without valid credentials (or 503 when they cannot be checked); 403 for a
        cookie-authenticated write without the session's anti-CSRF token.
    """
    key = request.headers.get("X-API-Key")
    if key:
        return auth.from_api_key(key)
    authorization = request.headers.get("Authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise AuthError(401, "Authorization header must be 'Bearer <token or API key>'")
        return auth.from_bearer(credentials.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = auth.from_session(cookie)
        if request.method not in _SAFE_METHODS and not auth.csrf_matches(
            principal, request.headers.get(CSRF_HEADER)
        ):
            raise AuthError(403, f"a write with a session cookie needs the {CSRF_HEADER} header")
        return principal
    raise AuthError(401, "authentication required: an API key or a bearer token")
