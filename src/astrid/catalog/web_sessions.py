"""Web sessions kept in the catalog, so a session cookie can be revoked before it expires.

The cookie is a signed token naming its session (the token's ``jti``); the row says until
when it holds and whether it was ended. Logout revokes the row, so a copied cookie stops
working at once although its signature and expiry are still good. Rows past their expiry
are deleted when a new session opens.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update

from astrid.catalog.models import WebSession, utcnow
from astrid.catalog.repository import Catalog, catalog_errors

__all__ = ["open_web_session", "revoke_web_session", "web_session_active"]

# Expired rows are kept this long after expiry (audit questions right after a logout).
_KEEP_EXPIRED = timedelta(days=1)


def open_web_session(
    catalog: Catalog, *, session_id: str, subject: str, expires_at: datetime
) -> None:
    """Record a new session valid until ``expires_at``; drop long-expired ones."""
    now = utcnow()
    with catalog_errors("open a web session"), catalog.session() as session:
        with session.begin():
            session.execute(delete(WebSession).where(WebSession.expires_at < now - _KEEP_EXPIRED))
            session.add(
                WebSession(
                    id=session_id, subject=subject[:255], created_at=now, expires_at=expires_at
                )
            )


def web_session_active(catalog: Catalog, session_id: str) -> bool:
    """Whether the session exists, is not revoked and has not expired."""
    with catalog_errors("check a web session"), catalog.session() as session:
        row = session.get(WebSession, session_id)
        return row is not None and row.revoked_at is None and row.expires_at > utcnow()


def revoke_web_session(catalog: Catalog, session_id: str) -> bool:
    """End a session now; whether it was active."""
    now = utcnow()
    with catalog_errors("revoke a web session"), catalog.session() as session:
        with session.begin():
            result = session.execute(
                update(WebSession)
                .where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return int(getattr(result, "rowcount", 0)) == 1
