"""FastAPI dependencies: the service, the caller and the role a route needs.

Use them as annotated parameters::

    def route(service: ServiceDep, caller: CuratorDep) -> ...

``ViewerDep``, ``CuratorDep`` and ``AdminDep`` authenticate the caller (401 without valid
credentials) and check the role (403). Cookie-authenticated writes must also carry the
session's ``X-CSRF-Token`` (403 otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from astrid.api.auth import SESSION_COOKIE, Authenticator, AuthError, Principal
from astrid.api.service import Service

__all__ = [
    "AdminDep",
    "CuratorDep",
    "ServiceDep",
    "ViewerDep",
    "authenticate",
    "require",
]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
_bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")


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


def _http_error(error: AuthError) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return HTTPException(status_code=error.status, detail=error.message, headers=headers)


def require(role: str) -> Callable[..., Principal]:
    """A dependency authenticating the caller and requiring at least ``role``."""

    def dependency(
        request: Request,
        service: ServiceDep,
        _key: Annotated[str | None, Depends(_api_key_header)],
        _bearer_token: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        # The two security schemes only document the credentials in the OpenAPI schema;
        # `authenticate` reads them (and the session cookie) itself.
        try:
            principal = authenticate(request, service.auth)
        except AuthError as e:
            raise _http_error(e) from e
        if not principal.allows(role):
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"this needs the {role} role; {principal.name!r} is {principal.role}",
            )
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


ViewerDep = Annotated[Principal, Depends(require("viewer"))]
CuratorDep = Annotated[Principal, Depends(require("curator"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]
