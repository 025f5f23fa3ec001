"""Tests of the content-addressed object store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from astrid.errors import StorageError
from astrid.store import ObjectStore
from s3_server import S3Server

DATA = b"SIMPLE  =                    T" + bytes(range(256)) * 10
HEX = hashlib.sha256(DATA).hexdigest()
KEY = f"sha256/{HEX[:2]}/{HEX[2:4]}/{HEX}.fits"


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(str(tmp_path / "store"))


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_bytes_returns_content_key_and_round_trips(store: ObjectStore) -> None:
    key = store.put_bytes(DATA, suffix=".fits")
    assert key == KEY
    assert store.exists(key)
    assert store.get_bytes(key) == DATA
    with store.open(key) as f:
        assert f.read() == DATA


def test_put_bytes_is_idempotent(store: ObjectStore, tmp_path: Path) -> None:
    key = store.put_bytes(DATA, suffix=".fits")
    path = store.local_path(key)
    assert path is not None
    mtime = path.stat().st_mtime_ns
    assert store.put_bytes(DATA, suffix=".fits") == key
    assert path.stat().st_mtime_ns == mtime  # not rewritten
    # only the object itself: no leftover temporary files
    assert _files(tmp_path / "store") == [path]


def test_suffix_is_part_of_the_key(store: ObjectStore) -> None:
    assert store.put_bytes(DATA) == KEY.removesuffix(".fits")
    assert store.put_bytes(DATA, suffix=".fits.fz").endswith(f"{HEX}.fits.fz")


def test_local_root_is_created(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "store"
    ObjectStore(str(root))
    assert root.is_dir()


def test_put_file_matches_put_bytes(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "image.fits"
    src.write_bytes(DATA)
    key = store.put_file(src)
    assert key == KEY
    assert store.get_bytes(key) == DATA
    assert store.put_file(src) == key
    assert store.put_file(str(src), suffix="") == KEY.removesuffix(".fits")


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("image.fits", ".fits"),
        ("ngc1234.r.fits", ".fits"),
        ("image.fits.fz", ".fits.fz"),
        ("IMAGE.FITS.GZ", ".FITS.GZ"),
        ("noext", ""),
        ("odd.fits~", ""),
    ],
)
def test_put_file_default_suffix(
    store: ObjectStore, tmp_path: Path, name: str, suffix: str
) -> None:
    src = tmp_path / name
    src.write_bytes(DATA)
    assert store.put_file(src) == KEY.removesuffix(".fits") + suffix


def test_put_file_streams_large_files(store: ObjectStore, tmp_path: Path) -> None:
    big = bytes(range(256)) * (3 * 4096 + 7)  # several chunks of 1 MiB, not a multiple
    src = tmp_path / "big.bin"
    src.write_bytes(big)
    key = store.put_file(src)
    assert key.split("/")[-1] == hashlib.sha256(big).hexdigest() + ".bin"
    assert store.get_bytes(key) == big


def test_put_file_missing_source(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"nothing\.fits"):
        store.put_file(tmp_path / "nothing.fits")


def test_url_and_local_path(store: ObjectStore) -> None:
    key = store.put_bytes(DATA, suffix=".fits")
    path = store.local_path(key)
    assert path is not None and path.read_bytes() == DATA
    assert store.url(key).startswith("file://")
    assert store.url(key).endswith(KEY)


@pytest.mark.parametrize(
    "key",
    [
        f"sha256/{HEX[:2]}/{HEX[2:4]}/../../../etc/passwd",
        f"sha256/{HEX[:2]}/{HEX[2:4]}/{HEX}..fits",
        f"sha256/{HEX[:2]}/{HEX[2:4]}/{HEX}/../x",
        f"/sha256/{HEX[:2]}/{HEX[2:4]}/{HEX}",
        f"sha256/00/00/{HEX}",  # prefix folders do not match the digest
        f"sha256/{HEX[:2]}/{HEX[2:4]}/{HEX[:-1]}",
        f"md5/{HEX[:2]}/{HEX[2:4]}/{HEX}",
        f"sha256/{HEX[:2]}/{HEX[2:4]}/{HEX.upper()}",
        f"sha256/00/00/{HEX}#0+10",  # a pack's member, of a malformed pack key
        f"sha256/{HEX[:2]}/{HEX[2:4]}/{HEX}#-1+10",
        "",
    ],
)
def test_bad_keys_are_refused(store: ObjectStore, key: str) -> None:
    for call in (store.get_bytes, store.exists, store.url, store.local_path, store.open):
        with pytest.raises(StorageError, match="invalid object key") as info:
            call(key)
        assert info.value.details["key"] == key


@pytest.mark.parametrize("suffix", ["fits", ".fits/..", "/x", ". fits", "..", ".a..b"])
def test_bad_suffixes_are_refused(store: ObjectStore, suffix: str) -> None:
    with pytest.raises(StorageError, match="invalid key suffix"):
        store.put_bytes(DATA, suffix=suffix)


def test_missing_key(store: ObjectStore) -> None:
    assert not store.exists(KEY)
    for call in (store.get_bytes, store.open, store.local_path):
        with pytest.raises(StorageError, match="no object") as info:
            call(KEY)
        assert info.value.details["key"] == KEY


def test_open_refuses_write_modes(store: ObjectStore) -> None:
    key = store.put_bytes(DATA)
    with pytest.raises(StorageError, match="immutable"):
        store.open(key, "wb")


def test_failed_write_leaves_no_object(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("astrid.store.os.replace", crash)
    with pytest.raises(StorageError, match="disk full"):
        store.put_bytes(DATA, suffix=".fits")
    assert not store.exists(KEY)
    assert _files(tmp_path / "store") == []  # the temporary file was removed too


def test_put_pack_gives_each_item_a_key_that_reads_it_back(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("astrid.store.PACK_BYTES", 3 * (len(DATA) + 1))  # packs of three
    items = [DATA + bytes([k % 5]) for k in range(8)] + [b""]  # repeats, and an empty one
    keys = store.put_pack(items, suffix=".fits")
    assert [store.get_bytes(key) for key in keys] == items
    assert all(store.exists(key) for key in keys)
    assert len({key.split("#")[0] for key in keys}) == 3
    assert len(_files(tmp_path / "store")) == 3  # three packs, no temporaries left
    assert store.put_pack(items, suffix=".fits") == keys  # the same items: the same keys
    assert store.put_pack([]) == []
    with store.open(keys[4]) as f:
        assert f.read() == items[4]
    assert store.local_path(keys[4]) is None  # a member has no file of its own
    with pytest.raises(StorageError, match="member of a pack"):
        store.url(keys[4])


def test_put_pack_on_an_fsspec_store(tmp_path: Path) -> None:
    store = ObjectStore(f"memory://astrid-pack-{tmp_path.name}")
    items = [DATA + bytes([k]) for k in range(10)]
    assert [store.get_bytes(key) for key in store.put_pack(items)] == items


def test_a_member_of_a_lost_or_cut_pack_is_a_clear_error(store: ObjectStore) -> None:
    key = store.put_pack([DATA, DATA[::-1]], suffix=".fits")[1]
    beyond = key.replace(f"+{len(DATA)}", f"+{len(DATA) + 10}")
    with pytest.raises(StorageError, match=f"holds {len(DATA)} of the member's {len(DATA) + 10}"):
        store.get_bytes(beyond)
    pack = store.local_path(key.split("#")[0])
    assert pack is not None
    pack.unlink()
    assert not store.exists(key)
    for call in (store.get_bytes, store.open, store.local_path):
        with pytest.raises(StorageError, match="no object"):
            call(key)


def test_put_pack_failing_leaves_no_temporaries(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("astrid.store.os.replace", crash)
    with pytest.raises(StorageError, match="disk full"):
        store.put_pack([DATA + bytes([k]) for k in range(10)], suffix=".fits")
    assert _files(tmp_path / "store") == []


def test_file_changing_while_stored_is_refused(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "image.fits"
    src.write_bytes(DATA)
    # the copy sees different bytes from the ones hashed first, as if the file were rewritten
    monkeypatch.setattr("astrid.store._chunks", lambda stream: iter([b"rewritten"]))
    with pytest.raises(StorageError, match="changed while it was being stored"):
        store.put_file(src)
    assert not store.exists(KEY)
    assert _files(tmp_path / "store") == []


def test_fsspec_memory_store(tmp_path: Path) -> None:
    name = f"astrid-test-{tmp_path.name}"
    store = ObjectStore(f"memory://{name}")
    key = store.put_bytes(DATA, suffix=".fits")
    assert key == KEY
    assert store.put_bytes(DATA, suffix=".fits") == key
    assert store.get_bytes(key) == DATA
    assert store.local_path(key) is None
    assert store.url(key) == f"memory:///{name}/{KEY}"
    with store.open(key) as f:
        assert f.read() == DATA
    missing = KEY.replace(".fits", ".fz")
    with pytest.raises(StorageError, match="no object"):
        store.get_bytes(missing)
    with pytest.raises(StorageError, match="no object"):
        store.open(missing)


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    import os
    import time

    store = ObjectStore(str(tmp_path / "objects"))
    key = store.put_bytes(b"kept", suffix=".txt")
    folder = (tmp_path / "objects" / key).parent
    stale = folder / f".{Path(key).name}.tmp-{'a' * 32}"
    fresh = folder / f".{Path(key).name}.tmp-{'b' * 32}"
    stale.write_bytes(b"half an object from a writer killed mid-write")
    fresh.write_bytes(b"a writer still at work")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    assert store.remove_stale_temporaries(older_than_s=3600) == 1
    assert not stale.exists() and fresh.exists()
    assert store.get_bytes(key) == b"kept"
    assert store.remove_stale_temporaries(older_than_s=0) == 1  # the fresh one, on request
    assert store.get_bytes(key) == b"kept"


def test_stale_temporaries_on_an_fsspec_store() -> None:
    import uuid

    store = ObjectStore(f"memory://astrid-{uuid.uuid4().hex}")
    key = store.put_bytes(b"x", suffix=".txt")
    assert store.remove_stale_temporaries(older_than_s=0) == 0
    assert store.get_bytes(key) == b"x"


def test_an_s3_store_puts_each_object_whole_in_one_request(s3_server: S3Server) -> None:
    """On an object store a PUT is atomic: no temporary name, no copy and delete."""
    import fsspec

    store = ObjectStore(s3_server.new_store_url())
    keys = [store.put_bytes(data, suffix=".fits") for data in (b"first", b"second", b"first")]
    members = store.put_pack([b"third", b"fourth"], suffix=".fits")  # one PUT, ranges read
    assert keys[0] == keys[2] and store.get_bytes(keys[1]) == b"second"
    assert [store.get_bytes(key) for key in members] == [b"third", b"fourth"]
    fs, root = fsspec.core.url_to_fs(store.url_root)
    assert sorted(p.rsplit("/", 1)[1] for p in fs.find(root)) == sorted(
        k.rsplit("/", 1)[1] for k in {*keys, members[0].split("#")[0]}
    )
