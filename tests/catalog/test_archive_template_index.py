"""The catalog's index of templates fetched from survey archives (``archive_templates``),
on SQLite and PostgreSQL: a row per request digest with its object store key; two
processes recording the same request at once both succeed and one row stays."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path
from threading import Barrier

import pytest
from sqlalchemy import func, select

from astrid.catalog import (
    ArchiveTemplate,
    Catalog,
    archive_template,
    connect,
    record_archive_template,
)
from postgres_server import backend_url

DIGEST = "a" * 64


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = backend_url(request, tmp_path)
    with connect(url):  # migrated once, before the racing connections
        pass
    yield url


def _record(catalog: Catalog, key: str, *, replace: bool = False) -> str:
    row = record_archive_template(
        catalog,
        digest=DIGEST,
        survey="ps1-cutout",
        band="r",
        ra=150.1,
        dec=2.2,
        shape=(824, 824),
        store_key=key,
        replace=replace,
    )
    return row.store_key


def _rows(catalog: Catalog) -> int:
    with catalog.session() as session:
        return int(session.scalar(select(func.count()).select_from(ArchiveTemplate)) or 0)


def test_a_recorded_template_is_found_by_its_digest(catalog_url: str) -> None:
    with connect(catalog_url) as catalog:
        assert archive_template(catalog, DIGEST) is None
        _record(catalog, "sha256/ab/cd/first.fits")
        found = archive_template(catalog, DIGEST)
        assert found is not None
        assert (found.survey, found.band, found.shape) == ("ps1-cutout", "r", (824, 824))
        assert (found.ra, found.dec) == pytest.approx((150.1, 2.2))
        assert found.store_key == "sha256/ab/cd/first.fits"
        assert found.fetched_at.tzinfo is not None
        assert found.fetched_at.utcoffset() == UTC.utcoffset(None)
        # recorded again (another process came second): the first row stays
        assert _record(catalog, "sha256/ab/cd/second.fits") == "sha256/ab/cd/first.fits"
        # the object was lost from the store and fetched again: the row follows it
        assert _record(catalog, "sha256/ab/cd/third.fits", replace=True) == (
            "sha256/ab/cd/third.fits"
        )
        assert _rows(catalog) == 1
        assert archive_template(catalog, "b" * 64) is None


def test_two_processes_recording_at_once_both_succeed(catalog_url: str) -> None:
    start = Barrier(4)

    def race(i: int) -> str:
        with connect(catalog_url) as catalog:
            start.wait()
            return _record(catalog, f"sha256/ab/cd/{i}.fits")

    with ThreadPoolExecutor(4) as pool:
        keys = list(pool.map(race, range(4)))
    assert len(set(keys)) == 1  # every writer got the one row that stayed
    with connect(catalog_url) as catalog:
        assert _rows(catalog) == 1
        found = archive_template(catalog, DIGEST)
        assert found is not None and found.store_key == keys[0]
