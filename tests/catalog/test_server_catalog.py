"""PostgreSQL done properly (issue 17 item 4): candidates filtered by a stored feature in
SQL on SQLite and on PostgreSQL, where the JSON columns are ``jsonb``; the connection pool
set from the database URL. (The HEALPix index serving cone searches on PostgreSQL is
checked by tests/api/test_candidates_api.py in the PostgreSQL pass.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from astrid.catalog import Catalog, connect
from astrid.catalog.candidates import count_candidates, list_candidates
from astrid.catalog.query_params import CandidateFilters, FeatureBound, InvalidQueryError
from astrid.errors import StorageError
from postgres_server import PostgresServer, backend_url


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    with connect(backend_url(request, tmp_path)) as cat:
        yield cat


def _seed(catalog: Catalog) -> list[int]:
    """Five candidates: psf_fwhm 1..4 on four (one of them also a text feature), none on
    the fifth; their ids in order."""
    obs = catalog.register_observation(
        content_sha256="a" * 64, name="sci", path="p", role="science", mjd=60000.0,
        filter="r", exptime=30.0, gain=1.0, shape=(64, 64), wcs_header=None,
    )  # fmt: skip
    run = catalog.start_run(key="k", science_id=obs, reference_id=None, config={}, code_version="1")
    base = {"x": 1.0, "y": 1.0, "ra": 150.0, "dec": 2.0, "sign": 1, "scorr": 6.0}
    rows: list[dict[str, Any]] = [{**base, "psf_fwhm": float(k)} for k in range(1, 5)]
    rows[1]["note"] = "bright"
    rows[2]["psf_fwhm_band"] = "r"  # a text feature of another name
    rows.append({**base, "other": 7.0})
    catalog.finish_run(run, candidates=rows, stats={}, timings={}, products={})
    return [int(r["id"]) for r in catalog.candidates(run_id=run)]


def _ids(catalog: Catalog, *bounds: str) -> list[int]:
    filters = CandidateFilters(features=tuple(FeatureBound.parse(b) for b in bounds))
    page = list_candidates(catalog, filters=filters, sort="id", descending=False, limit=100)
    assert count_candidates(catalog, filters=filters) == len(page.items)
    return [c.id for c in page.items]


def test_candidates_filter_by_a_feature(catalog: Catalog) -> None:
    ids = _seed(catalog)
    assert _ids(catalog, "psf_fwhm>2.5") == ids[2:4]
    assert _ids(catalog, "psf_fwhm >= 2") == ids[1:4]
    assert _ids(catalog, "psf_fwhm<2") == ids[:1]
    assert _ids(catalog, "psf_fwhm=3") == ids[2:3]
    assert _ids(catalog, "psf_fwhm>1", "psf_fwhm<=3") == ids[1:3]  # all must hold
    assert _ids(catalog, "other>6") == ids[4:]
    assert _ids(catalog, "missing>0") == []  # no such feature: no match
    assert _ids(catalog, "note>0") == []  # a text value is not a number: no match


def test_the_json_columns_are_jsonb_on_postgresql(postgres_server: PostgresServer) -> None:
    with connect(postgres_server.new_database()) as catalog:
        _check_jsonb(catalog)


def _check_jsonb(catalog: Catalog) -> None:
    query = text(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_name LIKE '%\\_json'"
    )
    with catalog.engine.connect() as conn:
        types = {(t, c): d for t, c, d in conn.execute(query)}
    assert len(types) == 15
    assert set(types.values()) == {"jsonb"}, types
    _seed(catalog)
    with catalog.engine.connect() as conn:  # queryable as JSON in plain SQL
        found = conn.execute(
            text("SELECT count(*) FROM candidates WHERE features_json ? 'psf_fwhm'")
        ).scalar()
    assert found == 4


@pytest.mark.parametrize(
    "bad",
    ["psf_fwhm", "psf fwhm>2", "psf_fwhm>>2", "psf_fwhm>abc", "psf_fwhm>nan", "x;drop>1", ""],
)
def test_a_bad_feature_filter_names_the_parameter(bad: str) -> None:
    with pytest.raises(InvalidQueryError, match="feature filter") as caught:
        FeatureBound.parse(bad)
    assert caught.value.details["field"] == "feature"


def test_the_pool_is_set_from_the_database_url(postgres_server: PostgresServer) -> None:
    url = postgres_server.new_database() + "?pool_size=3&max_overflow=1&pool_recycle=600"
    with connect(url) as catalog:
        pool: Any = catalog.engine.pool
        assert (pool.size(), pool._max_overflow, pool._recycle) == (3, 1, 600)
        assert "pool_size" not in str(catalog.engine.url)  # not passed on to the driver
        assert catalog.runs() == []


@pytest.mark.parametrize("query", ["pool_size=0", "pool_size=many", "max_overflow=-2"])
def test_a_bad_pool_setting_is_named(postgres_server: PostgresServer, query: str) -> None:
    with pytest.raises(StorageError, match=f"database URL setting {query.split('=')[0]}="):
        connect(postgres_server.new_database() + "?" + query)
