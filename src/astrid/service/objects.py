"""What both front ends do with objects: find one by its id or its public name.

The API renders it as JSON (`astrid.api.routes.objects`), the web page as HTML
(`astrid.web.object_page`); an id out of range is a 422 naming the path parameter, an
unknown object a 404.
"""

from __future__ import annotations

from fastapi import HTTPException

from astrid.catalog.object_records import ObjectRecord, sky_object
from astrid.service.params import MAX_ID
from astrid.service.state import Service

__all__ = ["find_object"]


def find_object(service: Service, key: str) -> ObjectRecord:
    """The object whose id or name (``ASTRID2026a``) is ``key``, or 422 / 404."""
    if key.isdigit() and not 1 <= int(key) <= MAX_ID:
        raise HTTPException(
            422,
            [
                {
                    "loc": ["path", "key"],
                    "msg": f"id must be in [1, {MAX_ID}]",
                    "type": "value_error",
                }
            ],
        )
    record = sky_object(service.catalog, key)
    if record is None:
        raise HTTPException(404, f"no object {key}")
    return record
