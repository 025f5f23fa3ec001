"""Administration: API keys and the audit log (admin role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from astrid.api.deps import AdminDep
from astrid.api.presenters import api_key_public, audit_public
from astrid.api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, AuditPublic
from astrid.catalog.access import (
    audit_log,
    create_api_key,
    list_api_keys,
)
from astrid.service import keys
from astrid.service.deps import ServiceDep
from astrid.service.params import Id, OptionalId

router = APIRouter(tags=["admin"])


@router.get("/keys", response_model=list[ApiKeyPublic])
def list_keys(service: ServiceDep, _: AdminDep) -> list[ApiKeyPublic]:
    """Every API key, newest first (prefixes only, never the secrets)."""
    return [api_key_public(k) for k in list_api_keys(service.catalog)]


@router.post("/keys", status_code=201, response_model=ApiKeyCreated)
def create_key(body: ApiKeyCreate, service: ServiceDep, caller: AdminDep) -> ApiKeyCreated:
    """Create a key; the response holds the secret, shown this once."""
    key, record = create_api_key(
        service.catalog, name=body.name, role=body.role, actor=caller.actor
    )
    return ApiKeyCreated(key=key, record=api_key_public(record))


@router.delete("/keys/{key_id}", response_model=ApiKeyPublic)
def revoke_key(key_id: Id, service: ServiceDep, caller: AdminDep) -> ApiKeyPublic:
    """Revoke a key: it stops working at once, web sessions made with it too."""
    return api_key_public(keys.revoke_key(service, caller, key_id))


@router.get("/audit", response_model=list[AuditPublic])
def get_audit_log(
    service: ServiceDep,
    _: AdminDep,
    actor: Annotated[str | None, Query(max_length=255)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    before_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditPublic]:
    """Audited writes, newest first: who did what to what, when."""
    entries = audit_log(
        service.catalog, actor=actor, action=action, before_id=before_id, limit=limit
    )
    return [audit_public(e) for e in entries]
