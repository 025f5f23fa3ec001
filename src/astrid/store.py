"""Content-addressed object store over fsspec.

An object's key is derived from the SHA-256 of its bytes: ``sha256/ab/cd/<hex><suffix>``
where ``ab`` and ``cd`` are the first two byte pairs of the hex digest and ``suffix`` is an
optional extension such as ``.fits`` or ``.fits.fz``. Storing the same bytes twice writes
them once. Objects are written under a temporary name in their final folder and then moved
into place, so a crash never leaves a partial object under a final key. Many small objects
(cutouts) are stored together as a pack, each named by the pack's key and its byte range
(`ObjectStore.put_pack`).

The root is a local directory (created when missing) or any fsspec URL (``s3://bucket/x``,
``memory://store``...).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from astrid.errors import StorageError

__all__ = ["ObjectStore"]

_CHUNK = 1 << 20
_SUFFIX = r"(?:\.[A-Za-z0-9_-]+)*"
_KEY_RE = re.compile(
    rf"^sha256/(?P<a>[0-9a-f]{{2}})/(?P<b>[0-9a-f]{{2}})/(?P<hex>[0-9a-f]{{64}})(?P<suffix>{_SUFFIX})$"
)
_SUFFIX_RE = re.compile(rf"^{_SUFFIX}$")
_COMPRESSION = frozenset({".fz", ".gz", ".bz2", ".xz", ".zst"})


def _key_for(digest: str, suffix: str) -> str:
    return f"sha256/{digest[:2]}/{digest[2:4]}/{digest}{suffix}"


def _default_suffix(path: Path) -> str:
    """The file's extension, keeping a compression one with its base (``.fits.fz``)."""
    suffixes = path.suffixes[-2:] if path.suffix.lower() in _COMPRESSION else path.suffixes[-1:]
    suffix = "".join(suffixes)
    return suffix if _SUFFIX_RE.match(suffix) else ""


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """Yield a binary stream in fixed-size chunks."""
    while chunk := stream.read(_CHUNK):
        yield chunk


#: fsspec protocols of object stores, where one PUT is atomic (S3 and its kin, GCS, Azure).
_ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "az", "memory"})
#: `ObjectStore.put_pack` closes a pack once it holds this many bytes: what one write (one
#: PUT) holds in memory.
PACK_BYTES = 32 << 20
#: The key of a pack's member: the pack's key, ``#``, the member's first byte and length.
_MEMBER_RE = re.compile(r"^(?P<pack>[^#]+)#(?P<start>[0-9]{1,12})\+(?P<length>[0-9]{1,12})$")


def _modified(info: dict[str, Any]) -> float:
    """Modification time (POSIX seconds) from an fsspec ``info`` dict (local or S3 style)."""
    value = info.get("mtime", info.get("LastModified", info.get("last_modified")))
    if value is None:
        raise KeyError("no modification time")
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


class ObjectStore:
    """A content-addressed store of immutable objects.

    Parameters
    ----------
    root : str
        Local directory or fsspec URL under which objects live. A local directory is created
        if it does not exist.

    Examples
    --------
    >>> import tempfile
    >>> store = ObjectStore(tempfile.mkdtemp())
    >>> key = store.put_bytes(b"hello", suffix=".txt")
    >>> key
    'sha256/2c/f2/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824.txt'
    >>> store.get_bytes(key)
    b'hello'
    """

    def __init__(self, root: str) -> None:
        fs, path = fsspec.core.url_to_fs(str(root))
        self._fs: fsspec.AbstractFileSystem = fs
        self._root = str(path).rstrip("/")
        self._local = isinstance(fs, LocalFileSystem)
        protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
        # an object store's single PUT is atomic (whole or absent): no temporary name needed
        self._atomic_put = bool(protocols & _ATOMIC_PUT_PROTOCOLS)
        if self._local:
            try:
                Path(self._root).mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StorageError(
                    f"cannot create object store directory {self._root}: {e}", root=self._root
                ) from e

    @property
    def root(self) -> str:
        """The store's root path as the filesystem sees it (no protocol)."""
        return self._root

    @property
    def url_root(self) -> str:
        """The store as an fsspec URL (``file:///…``, ``s3://bucket/prefix``): what
        ``ObjectStore(url_root)`` opens in another process or on another host."""
        return str(self._fs.unstrip_protocol(self._root))

    def __repr__(self) -> str:
        return f"ObjectStore({self._fs.unstrip_protocol(self._root)!r})"

    # -- writing --------------------------------------------------------------------------

    def put_bytes(self, data: bytes, *, suffix: str = "") -> str:
        """Store ``data`` and return its key.

        Parameters
        ----------
        data : bytes
            The object's content.
        suffix : str, optional
            Extension appended to the key, e.g. ``".fits"``; dots and ``[A-Za-z0-9_-]`` only.

        Returns
        -------
        str
            ``sha256/ab/cd/<hex><suffix>``. Writing the same bytes (and suffix) again returns
            the same key without writing.

        Raises
        ------
        StorageError
            If the suffix is malformed or the write fails.
        """
        self._check_suffix(suffix)
        key = _key_for(hashlib.sha256(data).hexdigest(), suffix)
        if self.exists(key):
            return key
        final = self._path(key)
        tmp = self._tmp_path(final)
        try:
            if self._local:
                Path(final).parent.mkdir(parents=True, exist_ok=True)
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, final)
            elif self._atomic_put:
                self._fs.pipe_file(final, data)
            else:
                self._fs.pipe_file(tmp, data)
                self._fs.mv(tmp, final)
        except OSError as e:
            self._discard(tmp)
            raise StorageError(f"cannot write object {key}: {e}", key=key) from e
        return key

    def put_pack(self, items: Sequence[bytes], *, suffix: str = "") -> list[str]:
        """Store many small objects together, as packs: their keys in order.

        The items are concatenated into packs of about `PACK_BYTES` each, stored as
        `put_bytes` stores an object (content-addressed, written under a temporary name and
        moved into place, durable before this returns) with the suffix ``suffix + ".pack"``.
        An item's key is its pack's key, ``#``, its first byte in the pack and its length
        (``sha256/ab/cd/<hex>.fits.pack#17280+17280``): `get_bytes`, `open` and `exists`
        take it like any key; it has no file or URL of its own (`local_path` returns None,
        `url` refuses it). One write instead of one per item: thousands of alert cutouts
        cost one fsync on a disk and one PUT on S3, not thousands. The same items in the
        same order give the same keys.

        Raises
        ------
        StorageError
            If the suffix is malformed or a write fails (packs written before stay whole).
        """
        self._check_suffix(suffix)
        keys: list[str] = []
        group: list[bytes] = []
        size = 0
        for k, data in enumerate(items):
            group.append(bytes(data))
            size += len(data)
            if size >= PACK_BYTES or k == len(items) - 1:
                pack = self.put_bytes(b"".join(group), suffix=f"{suffix}.pack")
                offset = 0
                for member in group:
                    keys.append(f"{pack}#{offset}+{len(member)}")
                    offset += len(member)
                group, size = [], 0
        return keys

    def put_file(self, path: str | os.PathLike[str], *, suffix: str | None = None) -> str:
        """Store a local file's content and return its key.

        The file is hashed in chunks (it is never read whole into memory); it is copied only
        if the store does not already hold it, and the copy is hashed again so that a file
        changing while it is stored is detected rather than filed under the wrong key.

        Parameters
        ----------
        path : str or os.PathLike
            The local file.
        suffix : str, optional
            Key extension; defaults to the file's extension (``.fits``), with its base
            extension when that is a compression one (``.fits.fz``), or none when it is
            not a plain extension.

        Returns
        -------
        str
            The object's key.

        Raises
        ------
        StorageError
            If the file cannot be read, changed while being stored, or the write fails.
        """
        src = Path(path)
        if suffix is None:
            suffix = _default_suffix(src)
        self._check_suffix(suffix)
        try:
            with open(src, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
        except OSError as e:
            raise StorageError(f"cannot read {src}: {e}", path=str(src)) from e
        key = _key_for(digest, suffix)
        if self.exists(key):
            return key

        final = self._path(key)
        tmp = self._tmp_path(final)
        hasher = hashlib.sha256()
        try:
            if self._local:
                Path(final).parent.mkdir(parents=True, exist_ok=True)
            with open(src, "rb") as fin, self._open_tmp(tmp) as fout:
                for chunk in _chunks(fin):
                    hasher.update(chunk)
                    fout.write(chunk)
                if self._local:
                    fout.flush()
                    os.fsync(fout.fileno())
        except OSError as e:
            self._discard(tmp)
            raise StorageError(f"cannot store {src} as {key}: {e}", path=str(src), key=key) from e
        if hasher.hexdigest() != digest:
            self._discard(tmp)
            raise StorageError(
                f"{src} changed while it was being stored (sha256 {digest} then "
                f"{hasher.hexdigest()})",
                path=str(src),
                key=key,
            )
        try:
            if self._local:
                os.replace(tmp, final)
            else:
                self._fs.mv(tmp, final)
        except OSError as e:
            self._discard(tmp)
            raise StorageError(f"cannot store {src} as {key}: {e}", path=str(src), key=key) from e
        return key

    # -- reading --------------------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes:
        """Return the content of the object ``key`` (a pack's member included).

        Raises
        ------
        StorageError
            If the key is malformed, no such object exists, or a member's pack is cut short.
        """
        path, start, length = self._locate(key)
        try:
            if start is None:
                data = self._fs.cat_file(path)
            else:
                data = self._fs.cat_file(path, start=start, end=start + length)
        except FileNotFoundError as e:
            raise StorageError(f"no object {key} in store {self!r}", key=key) from e
        except OSError as e:
            raise StorageError(f"cannot read object {key}: {e}", key=key) from e
        if start is not None and len(data) != length:
            raise StorageError(
                f"object {key}: its pack holds {len(data)} of the member's {length} bytes",
                key=key,
            )
        return bytes(data)

    def open(self, key: str, mode: str = "rb") -> IO[Any]:
        """Open the object ``key`` for reading.

        Parameters
        ----------
        key : str
            The object's key.
        mode : {"rb", "r"}
            Binary (default) or text. Objects are immutable, so write modes are refused.

        Returns
        -------
        file-like
            A file object; use it as a context manager.

        Raises
        ------
        StorageError
            If the key is malformed, the mode is not a read mode, or no such object exists.
        """
        if mode not in ("rb", "r"):
            raise StorageError(
                f"objects are immutable: cannot open {key} with mode {mode!r}; use 'rb' or 'r'",
                key=key,
                mode=mode,
            )
        path, start, _ = self._locate(key)
        if start is not None:  # a pack's member: its bytes
            data = self.get_bytes(key)
            return io.BytesIO(data) if mode == "rb" else io.StringIO(data.decode())
        try:
            return self._fs.open(path, mode)
        except FileNotFoundError as e:
            raise StorageError(f"no object {key} in store {self!r}", key=key) from e
        except OSError as e:
            raise StorageError(f"cannot open object {key}: {e}", key=key) from e

    def exists(self, key: str) -> bool:
        """Whether the store holds ``key`` (a member: its pack; a malformed key raises
        `StorageError`)."""
        path, _, _ = self._locate(key)
        if self._local:  # a stat, without fsspec's info dictionary
            return os.path.isfile(path)
        return bool(self._fs.exists(path))

    def url(self, key: str) -> str:
        """The fsspec URL of ``key`` (``file:///...``, ``s3://...``); existence not checked.

        Raises
        ------
        StorageError
            If the key is malformed or names a pack's member (it has no URL of its own).
        """
        if self._locate(key)[1] is not None:
            raise StorageError(f"object {key} is a member of a pack: it has no URL", key=key)
        return str(self._fs.unstrip_protocol(self._path(key)))

    def local_path(self, key: str) -> Path | None:
        """The local filesystem path of ``key``; None when it has no file of its own (the
        store is not local, or the key names a pack's member).

        Raises
        ------
        StorageError
            If the key is malformed, or the store is local and holds no such object.
        """
        path, start, _ = self._locate(key)
        if not self._local:
            return None
        if not os.path.isfile(path):
            raise StorageError(f"no object {key} in store {self!r}", key=key)
        return Path(path) if start is None else None

    # -- housekeeping ---------------------------------------------------------------------

    def remove_stale_temporaries(self, older_than_s: float = 3600.0) -> int:
        """Remove temporary files left by writers that died (``kill -9``) mid-write.

        Only files named like this store's temporaries (``.<name>.tmp-<uuid>`` next to the
        final object) and untouched for ``older_than_s`` seconds are removed, so a writer
        still busy in another process keeps its file. Returns how many were removed.
        """
        cutoff = time.time() - older_than_s
        removed = 0
        for path in self._fs.glob(f"{self._root}/sha256/*/*/.*.tmp-*"):
            try:
                if _modified(self._fs.info(path)) < cutoff:
                    self._fs.rm_file(path)
                    removed += 1
            except (OSError, KeyError, ValueError):
                continue  # gone meanwhile, or no time stamp: leave it
        return removed

    # -- internals ------------------------------------------------------------------------

    def _path(self, key: str, *, of: str | None = None) -> str:
        """Validate ``key`` (the pack part of the key ``of``) and return its full path."""
        match = _KEY_RE.match(key) if isinstance(key, str) else None
        if (
            match is None
            or ".." in key
            or match["a"] != match["hex"][:2]
            or match["b"] != match["hex"][2:4]
        ):
            named = key if of is None else of
            raise StorageError(
                f"invalid object key {named!r}: expected 'sha256/ab/cd/<64 hex digits><suffix>'"
                " (with '#<first byte>+<length>' for a pack's member)",
                key=named,
            )
        return f"{self._root}/{key}"

    def _locate(self, key: str) -> tuple[str, int | None, int]:
        """Validate ``key``: its file's full path, and a member's first byte and length
        (None and 0 for a whole object)."""
        member = _MEMBER_RE.match(key) if isinstance(key, str) else None
        if member is None:
            return self._path(key), None, 0
        path = self._path(member["pack"], of=key)
        return path, int(member["start"]), int(member["length"])

    @staticmethod
    def _check_suffix(suffix: str) -> None:
        if not _SUFFIX_RE.match(suffix) or ".." in suffix:
            raise StorageError(
                f"invalid key suffix {suffix!r}: expected extensions like '.fits' or '.fits.fz'",
                suffix=suffix,
            )

    @staticmethod
    def _tmp_path(final: str) -> str:
        head, _, name = final.rpartition("/")
        return f"{head}/.{name}.tmp-{uuid.uuid4().hex}"

    def _open_tmp(self, tmp: str) -> IO[bytes]:
        if self._local:
            return open(tmp, "wb")
        return self._fs.open(tmp, "wb")

    def _discard(self, tmp: str) -> None:
        """Remove a temporary file if it exists; cleanup must not hide the original error."""
        try:
            if self._local:
                Path(tmp).unlink(missing_ok=True)
            elif self._fs.exists(tmp):
                self._fs.rm_file(tmp)
        except OSError:
            # The original failure is what the caller needs; a stray temp file is harmless
            # because it never matches the key pattern.
            pass
