"""Objects of the store sent to clients: files as they are, with immutable caching.

Store keys are content hashes, so a response for a key never changes: it is sent with an
ETag and ``Cache-Control: immutable``, and a matching ``If-None-Match`` gets 304.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from fastapi import HTTPException, Request, Response
from fastapi.responses import FileResponse, StreamingResponse

from astrid.errors import StorageError
from astrid.store import ObjectStore

__all__ = ["CACHE_FOREVER", "cached", "etag_for", "not_modified", "stored_file"]

CACHE_FOREVER = "private, max-age=31536000, immutable"
_CHUNK = 1 << 16
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._+-]")


def etag_for(*parts: object) -> str:
    """A strong ETag naming a content-addressed representation."""
    return '"' + ":".join(str(p).replace('"', "") for p in parts) + '"'


def not_modified(request: Request, etag: str) -> bool:
    """Whether the client already holds the representation ``etag``."""
    held = request.headers.get("if-none-match", "")
    return etag in (tag.strip() for tag in held.split(","))


def cached(response: Response, etag: str) -> Response:
    """``response`` with the immutable caching headers of ``etag``."""
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = CACHE_FOREVER
    return response


def stored_file(
    store: ObjectStore, key: str, *, filename: str, media_type: str = "application/fits"
) -> Response:
    """The object ``key`` as a download named ``filename`` (404 when it is missing)."""
    safe = _UNSAFE_FILENAME.sub("_", filename) or "download"
    disposition = {"Content-Disposition": f'attachment; filename="{safe}"'}
    try:
        local = store.local_path(key)
        if local is not None:
            response: Response = FileResponse(local, media_type=media_type, headers=disposition)
        else:
            handle = store.open(key)

            def chunks() -> Iterator[bytes]:
                with handle:
                    while chunk := handle.read(_CHUNK):
                        yield chunk

            response = StreamingResponse(chunks(), media_type=media_type, headers=disposition)
    except StorageError as e:
        raise HTTPException(404, f"stored file {key} is missing") from e
    return cached(response, etag_for(key))
