"""Tests of astrid.observations.hashing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from astrid.observations.hashing import file_sha256


@pytest.mark.parametrize("size", [0, 1, (1 << 20) + 17])
def test_file_sha256_matches_hashlib_across_chunk_boundaries(tmp_path: Path, size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    path = tmp_path / "blob.bin"
    path.write_bytes(payload)
    assert file_sha256(path) == hashlib.sha256(payload).hexdigest()
    assert file_sha256(str(path)) == file_sha256(path)


def test_file_sha256_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        file_sha256(tmp_path / "nope.bin")
