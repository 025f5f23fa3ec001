"""Who is calling: API keys, JWT bearer tokens and web sessions, mapped to a role.

Credentials, checked in this order:

- ``X-API-Key: astrid_...`` or ``Authorization: Bearer astrid_...``: an API key
  (`astrid.catalog.access`), with the role it was created with.
- ``Authorization: Bearer <JWT>``: HS256 signed with the configured secret
  (``ASTRID_JWT_SECRET``), or RS256/ES256 verified against the OIDC provider's JWKS
  (``ASTRID_OIDC_JWKS_URL``). ``exp`` and ``sub`` are required; ``iss`` and ``aud`` when
  configured. The role comes from the claim ``ASTRID_JWT_ROLE_CLAIM`` (a dotted path such
  as ``app_metadata.role`` or ``realm_access.roles``; a string or a list, the highest known
  role wins), else ``ASTRID_JWT_DEFAULT_ROLE``, else the token is refused (403).
- the ``astrid_session`` cookie of the web page: an HS256 token this service issued at
  login (audience ``astrid-web``), bound to the API key it was made from, so revoking the
  key ends the session. A session made from a JWT ends when that token expires (its
  lifetime is the smaller of the session setting and what is left of the token). Each
  session is also a row in the catalog (`astrid.catalog.web_sessions`): logout revokes
  it, so a copied cookie stops working. Writes made with a session also need the
  ``X-CSRF-Token`` header (the page sends it), since browsers attach cookies to
  cross-site requests.

Roles are ordered viewer < curator < admin; a route needs a minimum role.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import jwt

from astrid.catalog import Catalog
from astrid.catalog.access import KEY_PREFIX, api_key, verify_api_key
from astrid.catalog.web_sessions import open_web_session, revoke_web_session, web_session_active
from astrid.roles import ROLES, Role, role_allows
from astrid.service.jwks import JwksCache, JwksUnavailableError

__all__ = [
    "SESSION_AUDIENCE",
    "SESSION_COOKIE",
    "AuthError",
    "Authenticator",
    "IssuedSession",
    "Principal",
]

logger = logging.getLogger(__name__)

Method = Literal["api_key", "jwt", "session"]
SESSION_COOKIE = "astrid_session"
SESSION_AUDIENCE = "astrid-web"
SESSION_ISSUER = "astrid"
_ASYMMETRIC = ("RS256", "ES256")
_LEEWAY_S = 30


class AuthError(Exception):
    """A request without valid credentials (401) or without the role it needs (403).

    ``status`` is 503 when credentials could not be checked (JWKS unreachable), 429 when
    the caller failed too often and must wait ``retry_after`` seconds.
    """

    def __init__(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    Attributes
    ----------
    name : str
        The curator name labels are stored under (key name, or the token's user name).
    role : {"viewer", "curator", "admin"}
    method : {"api_key", "jwt", "session"}
    key_id : int or None
        The API key used (directly or behind a session).
    subject : str
        Stable identity: ``key:<id>`` or the token's ``iss`` and ``sub``.
    csrf_token : str or None
        For sessions: the token writes must echo in ``X-CSRF-Token``.
    expires_at : float or None
        For JWTs: the token's ``exp`` (Unix seconds); a session made from it ends then.
    session_id : str or None
        For sessions: the server-side session (logout revokes it).
    """

    name: str
    role: Role
    method: Method
    subject: str
    key_id: int | None = None
    csrf_token: str | None = None
    expires_at: float | None = None
    session_id: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"{self.name} ({self.subject})"

    def allows(self, needed: str) -> bool:
        """Whether this caller's role covers ``needed``."""
        return role_allows(self.role, needed)


def _claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _best_role(value: Any) -> Role | None:
    candidates = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    known = [v for v in candidates if isinstance(v, str) and v in ROLES]
    if not known:
        return None
    best = max(known, key=ROLES.index)
    return best  # type: ignore[return-value]


@dataclass(frozen=True)
class IssuedSession:
    """A new web session: the cookie's value and how many seconds it holds."""

    token: str
    max_age: int


class Authenticator:
    """Verifies credentials and issues web sessions.

    Parameters
    ----------
    catalog : Catalog
        Where API keys live.
    secret : str
        HS256 secret for bearer tokens and sessions.
    jwks : JwksCache, optional
        The OIDC provider's keys; without it asymmetric tokens are refused.
    issuer, audience : str, optional
        Required ``iss`` / ``aud`` of bearer JWTs.
    role_claim : str
        Dotted path of the claim holding the role.
    default_role : str, optional
        Role of a valid token without a known role.
    session_seconds : float
        Lifetime of a web session.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        secret: str,
        jwks: JwksCache | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        role_claim: str = "role",
        default_role: Role | None = None,
        session_seconds: float = 12 * 3600.0,
    ) -> None:
        self._catalog = catalog
        self._secret = secret
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._role_claim = role_claim
        self._default_role = default_role
        self._session_seconds = session_seconds

    # -- credentials ----------------------------------------------------------------------

    def from_api_key(self, key: str) -> Principal:
        """The caller of an API key; `AuthError` 401 when it is unknown or revoked."""
        record = verify_api_key(self._catalog, key)
        if record is None:
            raise AuthError(401, "invalid or revoked API key")
        return Principal(
            name=record.name,
            role=record.role,  # type: ignore[arg-type]
            method="api_key",
            subject=f"key:{record.id}",
            key_id=record.id,
        )

    def from_bearer(self, token: str) -> Principal:
        """The caller of a bearer credential: an API key or a JWT."""
        if token.startswith(KEY_PREFIX):
            return self.from_api_key(token)
        claims = self._verify_jwt(token)
        role = _best_role(_claim(claims, self._role_claim)) or self._default_role
        name = next(
            (
                str(claims[c])
                for c in ("preferred_username", "email", "name", "sub")
                if isinstance(claims.get(c), str) and claims[c]
            ),
            "",
        )
        if role is None:
            raise AuthError(
                403, f"token of {name!r} has no role (claim {self._role_claim!r}) known here"
            )
        return Principal(
            name=name[:200],
            role=role,
            method="jwt",
            subject=f"{claims.get('iss', 'jwt')}|{claims['sub']}"[:200],
            expires_at=float(claims["exp"]),
        )

    def _verify_jwt(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise AuthError(401, f"malformed bearer token: {e}") from e
        algorithm = header.get("alg")
        key: Any
        if algorithm == "HS256":
            key = self._secret
        elif algorithm in _ASYMMETRIC:
            if self._jwks is None:
                raise AuthError(401, f"{algorithm} tokens need ASTRID_OIDC_JWKS_URL")
            kid = header.get("kid")
            if not isinstance(kid, str):
                raise AuthError(401, "token header has no key id (kid)")
            try:
                found = self._jwks.key(kid)
            except JwksUnavailableError as e:
                logger.warning("cannot verify a bearer token: %s", e)
                raise AuthError(503, "the identity provider's keys are unavailable") from e
            if found is None:
                raise AuthError(401, f"token signed with unknown key {kid!r}")
            key = found.key
        else:
            raise AuthError(401, f"token algorithm {algorithm!r} is not accepted")
        options = {"require": ["exp", "sub"], "verify_aud": self._audience is not None}
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options=options,  # type: ignore[arg-type]
                leeway=_LEEWAY_S,
            )
        except jwt.PyJWTError as e:
            raise AuthError(401, f"invalid bearer token: {e}") from e
        if claims.get("aud") == SESSION_AUDIENCE or not isinstance(claims.get("sub"), str):
            raise AuthError(401, "invalid bearer token: not a user token")
        return claims

    # -- web sessions ---------------------------------------------------------------------

    def issue_session(self, principal: Principal) -> IssuedSession:
        """Open a session for ``principal``: the cookie's token and its lifetime.

        The session lasts the configured session time, or until the token it was made
        from expires if that is sooner.

        Raises
        ------
        AuthError
            401 when the token has (all but) expired: within the bearer leeway it is still
            accepted as a bearer token, but no session is made from it.
        """
        now = int(time.time())
        lifetime = int(self._session_seconds)
        if principal.expires_at is not None:
            lifetime = min(lifetime, int(principal.expires_at) - now)
        if lifetime <= 0:
            raise AuthError(401, "the token has expired; get a new one to log in")
        session_id = secrets.token_urlsafe(16)
        claims: dict[str, Any] = {
            "iss": SESSION_ISSUER,
            "aud": SESSION_AUDIENCE,
            "sub": principal.subject,
            "name": principal.name,
            "role": principal.role,
            "via": principal.method,
            "iat": now,
            "exp": now + lifetime,
            "jti": session_id,
        }
        if principal.key_id is not None:
            claims["key"] = principal.key_id
        open_web_session(
            self._catalog,
            session_id=session_id,
            subject=principal.subject,
            expires_at=datetime.fromtimestamp(now + lifetime, UTC),
        )
        return IssuedSession(jwt.encode(claims, self._secret, algorithm="HS256"), lifetime)

    def end_session(self, principal: Principal) -> None:
        """Revoke the session ``principal`` came with (logout); its cookie stops working."""
        if principal.session_id is not None:
            revoke_web_session(self._catalog, principal.session_id)

    def from_session(self, token: str) -> Principal:
        """The caller of a session cookie; `AuthError` 401 when expired, forged or revoked."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=SESSION_AUDIENCE,
                issuer=SESSION_ISSUER,
                options={"require": ["exp", "sub", "role", "jti"]},
            )
        except jwt.PyJWTError as e:
            raise AuthError(401, f"session expired or invalid: {e}") from e
        session_id = str(claims["jti"])
        if not web_session_active(self._catalog, session_id):
            raise AuthError(401, "this session was ended (logged out)")
        role = claims["role"]
        key_id = claims.get("key")
        if key_id is not None:
            record = api_key(self._catalog, int(key_id))
            if record is None or not record.active:
                raise AuthError(401, "the API key of this session was revoked")
            role = record.role
        if role not in ROLES:
            raise AuthError(401, "session has no valid role")
        return Principal(
            name=str(claims.get("name", claims["sub"])),
            role=role,
            method="session",
            subject=str(claims["sub"]),
            key_id=None if key_id is None else int(key_id),
            csrf_token=self.csrf_token(token),
            session_id=session_id,
        )

    def csrf_token(self, session_token: str) -> str:
        """The anti-CSRF token of a session: an HMAC of the session token."""
        digest = hmac.new(self._secret.encode(), b"csrf:" + session_token.encode(), hashlib.sha256)
        return digest.hexdigest()[:40]

    @staticmethod
    def csrf_matches(principal: Principal, presented: str | None) -> bool:
        """Whether ``presented`` is the session's anti-CSRF token (constant time)."""
        if principal.csrf_token is None or presented is None:
            return False
        return hmac.compare_digest(principal.csrf_token, presented)
