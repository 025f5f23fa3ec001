"""API keys and the audit log of the service.

A key is ``astrid_<43 url-safe characters>`` (256 random bits); only its SHA-256 is
stored, with its first characters (``prefix``) to tell keys apart in listings. Looking a
key up hashes the presented key and finds the row by its hash, so the stored value never
meets the presented one in a comparison an attacker could time. A revoked key stays in the
table (its audit trail names it) and never verifies again.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from astrid.catalog.json_columns import dumps_json
from astrid.catalog.models import ApiKey, AuditEntry, utcnow
from astrid.catalog.query_params import InvalidQueryError, newest_first
from astrid.catalog.records import record_from_row
from astrid.catalog.repository import Catalog, catalog_errors
from astrid.errors import StorageError
from astrid.roles import ROLES

__all__ = [
    "KEY_PREFIX",
    "ApiKeyRecord",
    "AuditRecord",
    "api_key",
    "audit_entry",
    "audit_log",
    "count_api_keys",
    "create_api_key",
    "hash_api_key",
    "list_api_keys",
    "record",
    "revoke_api_key",
    "verify_api_key",
]

KEY_PREFIX = "astrid_"
_PREFIX_LENGTH = 16  # "astrid_" and 9 random characters
# A key's last_used_at is refreshed at most this often, so reads do not all become writes.
_TOUCH_INTERVAL = timedelta(minutes=1)
MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key as listings show it (never the key itself)."""

    id: int
    name: str
    prefix: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None


@dataclass(frozen=True)
class AuditRecord:
    """One audited write."""

    id: int
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]
    created_at: datetime


def hash_api_key(key: str) -> str:
    """The SHA-256 hex digest under which a key is stored."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _key_record(row: ApiKey) -> ApiKeyRecord:
    return record_from_row(ApiKeyRecord, row)


def audit_entry(
    *, actor: str, action: str, target: str | None = None, detail: dict[str, Any] | None = None
) -> AuditEntry:
    """An audit row to add in the same session as the write it records."""
    return AuditEntry(
        actor=actor[:255],
        action=action,
        target=target,
        detail_json=dumps_json(detail, f"audit detail of {action}") if detail else None,
        created_at=utcnow(),
    )


def record(
    catalog: Catalog,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record an event that writes nothing else (a login, an upload refused) in the audit log."""
    entry = audit_entry(actor=actor, action=action, target=target, detail=detail)
    with catalog_errors(f"record audit entry {action!r}"), catalog.session() as session:
        with session.begin():
            session.add(entry)


def create_api_key(
    catalog: Catalog, *, name: str, role: str, actor: str
) -> tuple[str, ApiKeyRecord]:
    """Create a key with ``role`` and return it (shown once) with its record.

    Raises
    ------
    InvalidQueryError
        For an unknown role or an empty or too long name.
    """
    if role not in ROLES:
        raise InvalidQueryError(
            f"role must be one of {', '.join(ROLES)}, got {role!r}", field="role"
        )
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidQueryError(
            f"key name must have 1 to {MAX_NAME_LENGTH} characters, got {len(name)}", field="name"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        prefix=key[:_PREFIX_LENGTH],
        key_sha256=hash_api_key(key),
        role=role,
        created_at=utcnow(),
    )
    with catalog_errors(f"create API key {name!r}"), catalog.session() as session:
        with session.begin():
            session.add(row)
            session.flush()
            session.add(
                audit_entry(
                    actor=actor,
                    action="key.create",
                    target=f"key:{row.id}",
                    detail={"name": name, "role": role, "prefix": row.prefix},
                )
            )
        return key, _key_record(row)


def verify_api_key(catalog: Catalog, key: str) -> ApiKeyRecord | None:
    """The active key record for a presented key, or None (unknown, malformed or revoked)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = hash_api_key(key)
    with catalog_errors("verify an API key"), catalog.session() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.key_sha256 == digest))
        if row is None or row.revoked_at is not None:
            return None
        found = _key_record(row)
        session.rollback()  # end the read before the write
        now = utcnow()
        if found.last_used_at is None or now - found.last_used_at > _TOUCH_INTERVAL:
            with session.begin():
                session.execute(
                    update(ApiKey).where(ApiKey.id == found.id).values(last_used_at=now)
                )
        return found


def api_key(catalog: Catalog, key_id: int) -> ApiKeyRecord | None:
    """One key's record, or None."""
    with catalog_errors(f"read API key {key_id}"), catalog.session() as session:
        row = session.get(ApiKey, key_id)
        return None if row is None else _key_record(row)


def list_api_keys(catalog: Catalog) -> list[ApiKeyRecord]:
    """Every key, newest first."""
    with catalog_errors("list API keys"), catalog.session() as session:
        return [_key_record(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.id.desc()))]


def count_api_keys(catalog: Catalog) -> int:
    """How many keys were ever created (revoked ones included)."""
    with catalog_errors("count API keys"), catalog.session() as session:
        return int(session.scalar(select(func.count(ApiKey.id))) or 0)


def revoke_api_key(catalog: Catalog, *, key_id: int, actor: str) -> ApiKeyRecord:
    """Revoke a key (idempotent: revoking a revoked key keeps its first revocation time).

    Raises
    ------
    StorageError
        If there is no key with this id.
    """
    with catalog_errors(f"revoke API key {key_id}"), catalog.session() as session:
        with session.begin():
            row = session.get(ApiKey, key_id)
            if row is None:
                raise StorageError(f"no API key with id {key_id}", key_id=key_id)
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                session.add(
                    audit_entry(
                        actor=actor,
                        action="key.revoke",
                        target=f"key:{key_id}",
                        detail={"name": row.name, "prefix": row.prefix},
                    )
                )
        return _key_record(row)


def audit_log(
    catalog: Catalog,
    *,
    actor: str | None = None,
    action: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    """Audit entries, newest first; ``before_id`` pages back."""
    query = newest_first(
        select(AuditEntry), AuditEntry.id, before_id=before_id, limit=limit, maximum=1000
    )
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    with catalog_errors("read the audit log"), catalog.session() as session:
        return [
            record_from_row(
                AuditRecord, e, detail=json.loads(e.detail_json) if e.detail_json else {}
            )
            for e in session.scalars(query)
        ]
