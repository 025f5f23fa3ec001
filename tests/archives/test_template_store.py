"""Fetched templates are kept in the object store and found again through the catalog's
index by request (survey, band, position, size) (issue 19).

The archive is the local stand-in for STScI's PS1 cutout service (`ps1_double`), which
replays the documented protocol with synthetic pixels; it counts the requests, so a
template taken from the store is one the archive was not asked for.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

from ps1_double import FakePs1
from sqlalchemy import func, select

from astrid.archives import ps1_cutout_request
from astrid.catalog import ArchiveTemplate, Catalog, archive_template, connect
from astrid.cli.templates import stored_template
from astrid.observations.fits_reader import read_image
from astrid.store import ObjectStore


def _rows(catalog: Catalog) -> int:
    with catalog.session() as session:
        return int(session.scalar(select(func.count()).select_from(ArchiveTemplate)) or 0)


def test_a_template_is_fetched_once_then_taken_from_the_store(
    science: Path, ps1: FakePs1, tmp_path: Path
) -> None:
    store = ObjectStore(str(tmp_path / "store"))
    request = ps1_cutout_request(read_image(science), band="r")
    with connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog:
        key, cached = stored_template(catalog, store, request, timeout=10, server=ps1.url)
        assert not cached and len(ps1.requests) == 2
        assert key.endswith(".fits") and store.exists(key)
        row = archive_template(catalog, request.digest)
        assert row is not None and row.store_key == key
        assert (row.survey, row.band, row.shape) == ("ps1-cutout", "r", request.shape)
        assert (row.ra, row.dec) == request.centre
        again, cached = stored_template(catalog, store, request, timeout=10, server=ps1.url)
        assert (again, cached) == (key, True) and len(ps1.requests) == 2
        # the object lost from the store: fetched again, and the index follows
        local = store.local_path(key)
        assert local is not None
        local.unlink()
        third, cached = stored_template(catalog, store, request, timeout=10, server=ps1.url)
        assert not cached and store.exists(third) and len(ps1.requests) == 4
        assert _rows(catalog) == 1


def test_two_processes_fetching_one_template_at_once_both_get_it(
    science: Path, ps1: FakePs1, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'astrid.sqlite'}"
    with connect(url):
        pass
    request = ps1_cutout_request(read_image(science), band="r")
    start = Barrier(2)

    def fetch(_: int) -> str:
        store = ObjectStore(str(tmp_path / "store"))
        with connect(url) as catalog:
            start.wait()
            key, _cached = stored_template(catalog, store, request, timeout=30, server=ps1.url)
            return key

    with ThreadPoolExecutor(2) as pool:
        keys = set(pool.map(fetch, range(2)))
    assert len(keys) == 1
    with connect(url) as catalog:
        assert _rows(catalog) == 1
