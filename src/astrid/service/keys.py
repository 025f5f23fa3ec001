"""What both front ends do with API keys: revoke one (404 when there is no such key).

Creating and listing keys are single catalog calls (`astrid.catalog.access`) that the API
and the admin page make directly.
"""

from __future__ import annotations

from fastapi import HTTPException

from astrid.catalog.access import ApiKeyRecord, api_key, revoke_api_key
from astrid.service.auth import Principal
from astrid.service.state import Service

__all__ = ["revoke_key"]


def revoke_key(service: Service, caller: Principal, key_id: int) -> ApiKeyRecord:
    """Revoke a key as ``caller``: it stops working at once, web sessions made with it too."""
    if api_key(service.catalog, key_id) is None:
        raise HTTPException(404, f"no API key with id {key_id}")
    return revoke_api_key(service.catalog, key_id=key_id, actor=caller.actor)
