"""The API's role dependencies: authenticate the caller (401) and check its role (403).

Use them as annotated parameters::

    def route(service: ServiceDep, caller: CuratorDep) -> ...

``ViewerDep``, ``CuratorDep`` and ``AdminDep`` authenticate the caller with
`astrid.service.deps.authenticate` and require at least that role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from astrid.service.auth import AuthError, Principal
from astrid.service.deps import ServiceDep, authenticate
from astrid.service.rate_limit import retry_after_header

__all__ = ["AdminDep", "CuratorDep", "ViewerDep", "require"]

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
_bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")


def _http_error(error: AuthError) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    if error.retry_after is not None:
        headers = {"Retry-After": retry_after_header(error.retry_after)}
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
            principal = authenticate(request, service.auth, service.backoff)
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
