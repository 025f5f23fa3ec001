"""A reference's preparation, kept for the next science frame: in the process, in a folder.

Preparing a reference (masks, background, stars on its own grid:
`astrid.preprocess.prepare_frame`) costs as much as a third of a frame at 4096². A night
of frames against one reference should pay it once:

- **In the process.** `ReferenceCache` keeps the last reference it prepared, by the file's
  identity and the settings, so consecutive frames of a worker share it.
- **In a folder.** Given a folder, a preparation is also written there (pickled, whole or
  not at all, named by a hash of its key) and read back by the next process instead of
  preparing the reference again: the processes of one batch through a folder private to
  the batch, and successive `astrid run` calls through a folder under the data directory
  (`persistent_folder`), pruned to a byte budget, oldest first (`prune`). The objects
  stage keeps each reference's sources (host galaxies, bright stars) there too, as FITS
  tables (`astrid.pipeline.object_context`).

A local file is known by its path, inode, size and modification time; an object of the
store by its key, which is its content's hash; any other URL is prepared each time. The
key also holds a digest of the code and library versions that make a preparation, so a
preparation kept by another AstrID is never read as this one's. The candidates are the
same whether the preparation was made or read (tests/pipeline/test_reference_preparation.py).

- **Beside the science frame.** A large reference not prepared yet is prepared in a
  process of its own (`ReferenceCache.prepare_aside`) while this one prepares the science
  frame, each on one core, and read from the folder when both are done: the first run
  against a reference then costs the longer of the two preparations, not their sum.

A pickle runs code when read, so a folder is used only when it is this user's and no one
else may write to it.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import pickle
import re
import stat
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from astrid.errors import AstridError
from astrid.observations.image import Image
from astrid.pipeline.inputs import FrameSource
from astrid.preprocess.pair import PrepareConfig, PreparedFrame, prepare_frame

__all__ = [
    "ASIDE_MIN_PIXELS",
    "ReferenceAside",
    "ReferenceCache",
    "persistent_folder",
    "prepare_into",
    "prune",
]

log = logging.getLogger(__name__)

_STORE_KEY = re.compile(r"/sha256/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}[.A-Za-z0-9_-]*$")
#: The libraries whose results a preparation holds.
_LIBRARIES = ("numpy", "scipy", "sep", "astroscrappy", "photutils", "astropy")
#: A reference of at least this many pixels is prepared beside the science frame. The
#: second process costs ~2.6 s of imports, and a 2048² preparation takes about 3 s (a
#: quarter of 4096²'s), so smaller ones are not worth it. The gain was measured at 4096²
#: only (docs/benchmarks.md).
ASIDE_MIN_PIXELS = 2048 * 2048


class ReferenceCache:
    """The last reference this process prepared, and (given a folder) those kept there."""

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._frame: PreparedFrame | None = None

    def prepared(
        self, source: FrameSource, image: Image, config: PrepareConfig, folder: str | None = None
    ) -> PreparedFrame:
        """``image`` (read from ``source``) prepared, or its preparation kept from before."""
        key = _key(source, config)
        if key is not None and key == self._key and self._frame is not None:
            return self._frame
        kept = _kept_path(key, folder)
        frame = None if kept is None else _read_kept(kept)
        if frame is None:
            frame = prepare_frame(image, config, role="reference")
            if kept is not None:
                _keep(frame, kept)
        self._key, self._frame = key, (None if key is None else frame)
        return frame

    def prepare_aside(
        self,
        source: FrameSource,
        image: Image,
        config: PrepareConfig,
        folder: str | None,
        *,
        max_pixels: int,
    ) -> ReferenceAside | None:
        """Start preparing ``image`` in a process of its own, which keeps the preparation in
        ``folder`` for `prepared` to read, when that pays: the reference is at least
        `ASIDE_MIN_PIXELS`, not prepared in this process nor kept, there is a folder to
        meet in and a second core, and this process is not itself a child (a batch's
        frame, a Dask worker). None when not started (`prepared` then prepares here).

        The process reads the file again (``max_pixels`` as here) with one thread for its
        native libraries; if it fails, `prepared` prepares the reference here and raises
        the error the reference deserves.
        """
        key = _key(source, config)
        kept = _kept_path(key, folder)
        if kept is None or image.data.size < ASIDE_MIN_PIXELS:
            return None
        if (key == self._key and self._frame is not None) or kept.exists():
            return None
        # not from a process of a batch or a Dask worker: their cores are taken already
        if _cores() < 2 or multiprocessing.parent_process() is not None:
            return None
        try:
            return ReferenceAside(source, config, str(kept.parent), max_pixels)
        except OSError as e:
            log.info("cannot prepare %s aside: %s", source.label, e)
            return None


class ReferenceAside:
    """A reference being prepared in a process of its own (`ReferenceCache.prepare_aside`).

    The process is a fresh interpreter running `astrid.pipeline.reference_aside`, given
    its task on stdin: not a multiprocessing child, which would import the caller's main
    script again (a script without a ``__main__`` guard would run twice). It dies with
    this process; its ~2 s of imports pass beside the science frame.
    """

    def __init__(
        self, source: FrameSource, config: PrepareConfig, folder: str, max_pixels: int
    ) -> None:
        task = pickle.dumps((os.getpid(), source, config, folder, max_pixels))
        self._process = subprocess.Popen(  # OSError: not started, the caller prepares here
            [sys.executable, "-m", "astrid.pipeline.reference_aside"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(task)
            self._process.stdin.close()
        except OSError:  # it died at once: `prepared` prepares the reference here
            self.close()

    def join(self) -> None:
        """Wait until the preparation is kept (or the process failed)."""
        self._process.wait()

    def close(self) -> None:
        """Stop the process if it still runs (the frame failed meanwhile)."""
        if self._process.poll() is None:
            self._process.terminate()
        self._process.wait()


def _cores() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def prepare_into(source: FrameSource, config: PrepareConfig, folder: str, max_pixels: int) -> None:
    """The work of `ReferenceAside`'s process: prepare and keep, with one thread."""
    with threadpool_limits(limits=1):
        try:
            ReferenceCache().prepared(source, source.read(max_pixels=max_pixels), config, folder)
        except (AstridError, OSError, ValueError, MemoryError) as e:
            # the owner finds nothing kept, prepares the reference itself and reports this
            log.info("%s: not prepared aside (%s)", source.label, e)


def _key(source: FrameSource, config: PrepareConfig) -> tuple[Any, ...] | None:
    identity = file_identity(source)
    return None if identity is None else (identity, config, code_digest())


def _kept_path(key: tuple[Any, ...] | None, folder: str | None) -> Path | None:
    """Where the preparation of ``key`` is kept in ``folder`` (None: not kept there)."""
    if key is None or folder is None or not _usable(Path(folder)):
        return None
    return Path(folder) / f"{hashlib.sha256(repr(key).encode()).hexdigest()}.pickle"


def file_identity(source: FrameSource) -> tuple[Any, ...] | None:
    """What tells a file's content apart without reading it; None when nothing does."""
    if source.path is None:
        # an object of AstrID's store is named by its content's hash: it never changes
        found = _STORE_KEY.search(source.url or "")
        return None if found is None else (source.url,)
    try:
        st = os.stat(source.path)
    except OSError:
        return None
    return (os.path.abspath(source.path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 of the code that prepares a reference (the ``preprocess``, ``observations``
    and ``context`` packages' sources: masks, stars, sources) and of the versions of the
    libraries it calls."""
    import astrid.context
    import astrid.observations
    import astrid.preprocess

    digest = hashlib.sha256()
    for package in (astrid.preprocess, astrid.observations, astrid.context):
        for path in sorted(Path(str(package.__file__)).parent.glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    for name in _LIBRARIES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=none".encode())
    return digest.hexdigest()


def persistent_folder(path: Path | str) -> str | None:
    """``path`` created (mode 0700) for kept preparations; None, with a warning, when it
    cannot be created or is not safe to read pickles from (`_usable`)."""
    folder = Path(path)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        log.warning("%s: cannot keep reference preparations there (%s)", folder, e)
        return None
    return str(folder) if _usable(folder) else None


def prune(folder: Path | str, max_bytes: int) -> list[Path]:
    """Remove kept preparations, least recently used first, until those left take at most
    ``max_bytes``; returns the removed files. Files that vanish meanwhile are skipped."""
    kept = []
    for path in [*Path(folder).glob("*.pickle"), *Path(folder).glob("sources-*.fits")]:
        try:
            st = path.stat()
        except OSError:
            continue
        kept.append((st.st_mtime_ns, st.st_size, path))
    kept.sort()
    total = sum(size for _, size, _ in kept)
    removed = []
    for _, size, path in kept:
        if total <= max_bytes:
            break
        try:
            path.unlink()
        except OSError:
            continue
        total -= size
        removed.append(path)
    return removed


def _usable(folder: Path) -> bool:
    """Whether ``folder`` is this user's and writable by no one else (a pickle read from a
    folder someone else can write to would run their code)."""
    try:
        st = folder.stat()
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        log.warning(
            "%s: not used for reference preparations: it must belong to this user and be "
            "writable by no one else (mode %o)",
            folder,
            stat.S_IMODE(st.st_mode),
        )
        return False
    return True


def _read_kept(path: Path) -> PreparedFrame | None:
    try:
        with path.open("rb") as f:
            frame = pickle.load(f)
    except FileNotFoundError:
        return None
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as e:
        log.warning("%s: cannot read the kept reference preparation (%s); preparing again", path, e)
        return None
    if not isinstance(frame, PreparedFrame):
        return None
    try:
        os.utime(path)  # recently used: pruned last
    except OSError:
        pass
    return frame


def _keep(frame: PreparedFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` whole or not at all (a reader never sees half a file)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with partial.open("wb") as f:
            pickle.dump(frame, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)
    except OSError as e:  # a full disk costs the next frame time, not its result
        log.warning("%s: cannot keep the reference preparation (%s)", path, e)
        partial.unlink(missing_ok=True)
