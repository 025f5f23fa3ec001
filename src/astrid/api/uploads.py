"""FITS uploads: streamed to disk under a size limit, validated, then stored and registered.

Nothing reaches the catalog or the object store before the file has been read in full by
`astrid.observations.fits_reader.read_image` (with its WCS, within the pixel budget
``ASTRID_MAX_IMAGE_PIXELS``: a file declaring more pixels is refused from its header,
before anything is decompressed), found to hold signal (a constant frame never becomes
"the latest reference of its band") and, for a science image, a reference to difference
it against has been found. A refused upload leaves no trace but
the error returned to the client.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio

from astrid.catalog import Catalog
from astrid.catalog.observations import (
    ObservationRecord,
    latest_reference,
    observation,
    observation_by_hash,
)
from astrid.errors import AstridError, InvalidImageError
from astrid.observations.fits_reader import DEFAULT_MAX_PIXELS, read_image
from astrid.observations.hashing import file_sha256
from astrid.observations.image import Image
from astrid.observations.validate import check_usable
from astrid.pipeline.inputs import register_observation
from astrid.store import ObjectStore

__all__ = [
    "UploadRejectedError",
    "UploadTooLargeError",
    "ValidUpload",
    "discard",
    "receive",
    "register",
    "validate",
]

logger = logging.getLogger(__name__)


class UploadRejectedError(AstridError):
    """An upload that is not accepted; ``field`` names the parameter at fault."""


class UploadTooLargeError(UploadRejectedError):
    """An upload over the size limit (``limit`` bytes)."""


@dataclass(frozen=True)
class ValidUpload:
    """A received file that read as an image, and the reference it will be run against."""

    path: Path
    image: Image
    reference: ObservationRecord | None


async def receive(
    chunks: AsyncIterator[bytes], *, incoming: Path, filename: str, max_bytes: int
) -> Path:
    """Write the streamed body to ``incoming/<random>/<filename>``, at most ``max_bytes``.

    Raises
    ------
    UploadTooLargeError
        As soon as the body passes ``max_bytes`` (the partial file is removed).
    UploadRejectedError
        For an empty body.
    """
    folder = incoming / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path = folder / filename
    size = 0
    try:
        async with await anyio.open_file(path, "wb") as handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLargeError(
                        f"{filename}: upload is larger than the limit of {max_bytes} bytes",
                        field="body",
                        limit=max_bytes,
                    )
                await handle.write(chunk)
        if size == 0:
            raise UploadRejectedError(f"{filename}: the request body is empty", field="body")
    except BaseException:
        discard(path)
        raise
    return path


def discard(path: Path) -> None:
    """Remove a received file and its private folder."""
    shutil.rmtree(path.parent, ignore_errors=True)


def validate(
    catalog: Catalog,
    path: Path,
    *,
    filename: str,
    role: str,
    reference_id: int | None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ValidUpload:
    """Read the received file as an image and find the reference of a science image.

    Parameters
    ----------
    max_pixels : int
        Pixel budget (``ASTRID_MAX_IMAGE_PIXELS``): a file whose header declares more is
        refused before its data are read or decompressed.

    Raises
    ------
    UploadRejectedError
        Naming the file and the problem: not a usable image (unreadable, over the pixel
        budget, no WCS, constant: ``field="body"``), or no usable reference
        (``field="reference_id"``).
    """
    try:
        image = read_image(path, max_pixels=max_pixels)
        check_usable(image, role)
    except InvalidImageError as e:
        message = str(e).replace(str(path), filename)
        raise UploadRejectedError(message, field="body") from e
    if role == "reference":
        if reference_id is not None:
            raise UploadRejectedError(
                "reference_id is only for science uploads", field="reference_id"
            )
        return ValidUpload(path=path, image=image, reference=None)
    if reference_id is not None:
        reference = observation(catalog, reference_id)
        if reference is None or reference.role != "reference" or reference.status == "failed":
            raise UploadRejectedError(
                f"reference_id {reference_id} is not a usable reference observation",
                field="reference_id",
            )
    else:
        reference = latest_reference(catalog, filter=image.meta.filter)
        if reference is None:
            raise UploadRejectedError(
                f"{filename}: no reference observation in filter {image.meta.filter!r}; "
                "upload one with role=reference first, or give reference_id",
                field="reference_id",
            )
    if reference.filter != image.meta.filter:
        raise UploadRejectedError(
            f"{filename}: filter {image.meta.filter!r} differs from reference "
            f"{reference.id}'s {reference.filter!r}",
            field="reference_id",
        )
    return ValidUpload(path=path, image=image, reference=reference)


def register(
    catalog: Catalog, store: ObjectStore, upload: ValidUpload, *, filename: str, role: str
) -> tuple[int, bool]:
    """Store the file and register the observation; ``(id, created)``.

    An upload whose content is already known returns the existing observation
    (``created`` False); registering is idempotent on the content hash.
    """
    sha = file_sha256(upload.path)
    known = observation_by_hash(catalog, sha)
    observation_id = register_observation(
        catalog,
        store,
        upload.path,
        upload.image,
        sha256=sha,
        role=role,
        source=f"upload:{filename}",
    )
    created = known is None
    if created:
        catalog.record_event(
            "ObservationUploaded", {"observation_id": observation_id, "name": filename}
        )
    return observation_id, created
