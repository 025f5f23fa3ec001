"""The inputs of a pipeline run: FITS files (on disk or at any fsspec URL such as
``s3://bucket/frame.fits``), or observations already registered.

`admit_frame` hashes, reads and registers a frame given as a path or URL: a remote one is
copied once into a temporary file for that (its bytes must be hashed anyway), stored, and
from then on read from the object store, so no worker needs the client's disk.
`register_observation` is the one way an image enters the catalog: its file goes to the
object store and the observation is recorded with its content hash (idempotent on it).
A `FrameSource` says where a worker process reads a frame from: a file given on the
command line, or a registered observation's object in the store, read in place (a local
store's file, a remote store's object streamed), never copied, re-hashed or re-registered.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec

from astrid.catalog import Catalog
from astrid.catalog.observations import ObservationRecord, observation
from astrid.difference.stack_files import stack_summary
from astrid.errors import AstridError, InvalidImageError
from astrid.observations.fits_reader import DEFAULT_MAX_PIXELS, read_image
from astrid.observations.hashing import file_sha256
from astrid.observations.image import Image
from astrid.preprocess.master_files import read_masters
from astrid.store import ObjectStore

log = logging.getLogger(__name__)

__all__ = [
    "AdmittedFrame",
    "FrameSource",
    "admit_frame",
    "copy_url",
    "frame_url",
    "hash_masters",
    "register_failed",
    "register_observation",
    "stored_observation",
]


@dataclass(frozen=True)
class FrameSource:
    """Where one frame is read from (picklable, for a process pool).

    Attributes
    ----------
    label : str
        The frame in reports and error messages: the path, or ``observation <id> (<name>)``.
    path : str, optional
        A local file (given, or the store's own copy of a registered observation).
    url : str, optional
        The fsspec URL of the object in a remote store (when there is no ``path``).
    name : str, optional
        The image's name, for a file named by its content hash.
    """

    label: str
    path: str | None = None
    url: str | None = None
    name: str | None = None

    @classmethod
    def file(cls, path: str | os.PathLike[str]) -> FrameSource:
        """A FITS file given by its path."""
        return cls(label=os.fspath(path), path=os.fspath(path))

    def read(self, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image:
        """Read the image (`astrid.observations.fits_reader.read_image`), refusing one
        whose header declares more than ``max_pixels`` pixels before reading its data."""
        if self.path is not None:
            return read_image(self.path, name=self.name, label=self.label, max_pixels=max_pixels)
        assert self.url is not None
        with fsspec.open(self.url, "rb") as stream:
            return read_image(stream, name=self.name, label=self.label, max_pixels=max_pixels)


@dataclass(frozen=True)
class AdmittedFrame:
    """A frame admitted to a run: where it is read from and what identifies it."""

    source: FrameSource
    sha256: str
    observation_id: int
    name: str


def frame_url(frame: str | os.PathLike[str]) -> str | None:
    """The URL of a frame given as a remote fsspec URL (``s3://…``), else None.

    Plain paths and ``file://`` URLs are local files.
    """
    text = os.fspath(frame)
    if "://" not in text or text.startswith("file://"):
        return None
    return text


def _local_path(frame: str | os.PathLike[str]) -> Path:
    text = os.fspath(frame)
    return Path(text[len("file://") :] if text.startswith("file://") else text)


def copy_url(url: str, path: str | os.PathLike[str]) -> Path:
    """Copy the object at an fsspec ``url`` into the local file ``path``, streamed; it."""
    with fsspec.open(url, "rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 22)
    return Path(path)


@contextmanager
def _fetched(url: str) -> Iterator[Path]:
    """The object at ``url`` copied into a temporary file, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="astrid-input-") as folder:
        name = PurePosixPath(url.split("?", 1)[0]).name or "frame.fits"
        yield copy_url(url, Path(folder) / name)


def admit_frame(
    catalog: Catalog,
    store: ObjectStore,
    frame: str | os.PathLike[str],
    role: str,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> AdmittedFrame:
    """Hash, read and register the frame at a path or URL.

    A local file is read in place by the workers; a remote one (`frame_url`) is copied
    into a temporary file to be hashed and read, stored, and read from the store after.

    Raises
    ------
    InvalidImageError
        If it cannot be fetched or read, or is not a usable image; the frame is recorded
        as a failed observation and an ``ObservationRejected`` event first, and the
        message names the path or URL.
    StorageError
        If the store cannot take it.
    """
    url = frame_url(frame)
    label = url or os.fspath(_local_path(frame))
    sha: str | None = None
    try:
        with _fetched(url) if url else nullcontext(_local_path(frame)) as path:
            sha = file_sha256(path)
            image = read_image(path, label=label, max_pixels=max_pixels)
            obs_id = register_observation(
                catalog, store, path, image, sha256=sha, role=role, source=label
            )
    except (InvalidImageError, OSError, ImportError, ValueError) as e:
        message = str(e) if isinstance(e, InvalidImageError) else f"{label}: cannot read ({e})"
        failed = register_failed(catalog, label, sha, role, message)
        catalog.record_event("ObservationRejected", {"path": label, "error": message})
        raise InvalidImageError(message, path=label, observation_id=failed) from e
    if url is None:
        return AdmittedFrame(FrameSource.file(label), sha, obs_id, image.meta.name)
    source = stored_observation(catalog, store, obs_id)[1]
    return AdmittedFrame(replace(source, label=url), sha, obs_id, image.meta.name)


def register_observation(
    catalog: Catalog,
    store: ObjectStore,
    file: str | os.PathLike[str],
    image: Image,
    *,
    sha256: str,
    role: str,
    source: str | None = None,
) -> int:
    """Store ``file`` and record it as an observation; its id.

    Parameters
    ----------
    catalog, store : Catalog, ObjectStore
    file : path
        The FITS file ``image`` was read from.
    image : Image
        Its contents (metadata and WCS are recorded).
    sha256 : str
        Its content hash, the observation's identity: registering known content returns
        the existing observation.
    role : str
        ``"science"`` or ``"reference"``.
    source : str, optional
        Where it came from, as recorded (default: the path; ``upload:<name>`` for uploads).
    """
    wcs_header = image.wcs.to_header(relax=True).tostring(sep="\n") if image.wcs else None
    key = store.put_file(file)
    return catalog.register_observation(
        content_sha256=sha256,
        name=image.meta.name,
        path=source or os.fspath(file),
        role=role,
        mjd=image.meta.mjd,
        filter=image.meta.filter,
        exptime=image.meta.exptime,
        gain=image.meta.gain,
        shape=image.shape,
        wcs_header=wcs_header,
        store_key=key,
        mjd_end=_latest_input(image),
        stack=_stack(file),
    )


def _stack(file: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A reference stack's summary for its record; None for a single exposure, and None
    with a warning naming the file when a stack's INPUTS table cannot be read (the image
    itself is usable)."""
    try:
        return stack_summary(file)
    except (OSError, ValueError) as e:
        log.warning("%s: stack summary not recorded: %s", os.fspath(file), e)
        return None


def _latest_input(image: Image) -> float | None:
    """A stack's ``MJD-END`` (its latest input), when the header has a usable one."""
    value = image.header.get("MJD-END")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def stored_observation(
    catalog: Catalog, store: ObjectStore, observation_id: int
) -> tuple[ObservationRecord, FrameSource]:
    """A registered observation and where its stored file is read from.

    Raises
    ------
    AstridError
        If there is no such observation or it has no stored file.
    StorageError
        If the store does not hold its file.
    """
    record = observation(catalog, observation_id)
    if record is None:
        raise AstridError(
            f"observation {observation_id} does not exist", observation_id=observation_id
        )
    label = f"observation {record.id} ({record.name})"
    if record.store_key is None:
        raise AstridError(f"{label} has no stored file", observation_id=record.id)
    local: Path | None = store.local_path(record.store_key)
    if local is not None:
        return record, FrameSource(label=label, path=str(local), name=record.name)
    if not store.exists(record.store_key):
        raise AstridError(
            f"{label}: its file {record.store_key} is not in the store", observation_id=record.id
        )
    return record, FrameSource(label=label, url=store.url(record.store_key), name=record.name)


def register_failed(catalog: Catalog, path: str, sha: str | None, role: str, error: str) -> int:
    """Record a file (path or URL) that could not be read as a failed observation; its id."""
    digest = sha or hashlib.sha256(f"unreadable:{path}".encode()).hexdigest()
    obs = catalog.register_observation(
        content_sha256=digest,
        name=PurePosixPath(path).name,
        path=path,
        role=role,
        mjd=None,
        filter=None,
        exptime=0.0,
        gain=0.0,
        shape=(0, 0),
        wcs_header=None,
    )
    catalog.mark_observation(obs, status="failed", error=error)
    return obs


def hash_masters(
    calibration: Mapping[str, str | os.PathLike[str]] | None,
) -> dict[str, tuple[str, str]]:
    """``kind -> (path, sha256)`` of each master file, after checking it can be read."""
    paths = {kind: os.fspath(path) for kind, path in sorted((calibration or {}).items())}
    read_masters(paths)  # an unknown kind or unreadable master stops the batch here
    masters: dict[str, tuple[str, str]] = {}
    for kind, label in paths.items():
        try:
            sha = file_sha256(label)
        except OSError as e:
            raise InvalidImageError(f"{label}: cannot read master {kind} ({e})", path=label) from e
        masters[kind] = (label, sha)
    return masters
