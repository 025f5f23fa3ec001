"""Content hashes of files, the provenance and idempotency keys of everything AstrID stores.

Hashes are lower-case hexadecimal SHA-256 digests of the file's bytes as stored (a ``.fz``
or ``.gz`` file is hashed compressed, not decompressed).
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["file_sha256"]

_CHUNK_BYTES = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks so large files never sit in memory.

    Parameters
    ----------
    path : str or os.PathLike
        The file to hash.

    Returns
    -------
    str
        64 lower-case hexadecimal characters.

    Raises
    ------
    OSError
        If the file cannot be opened or read (``FileNotFoundError`` when it is missing).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
    >>> _ = p.write_bytes(b"abc")
    >>> file_sha256(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
