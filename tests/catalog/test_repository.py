"""Tests of the catalog repository on a temporary SQLite file."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import pytest
from astropy_healpix import HEALPix

from astrid.catalog import Catalog, RunRecord, connect
from astrid.errors import StorageError


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    cat = connect(f"sqlite:///{tmp_path / 'db' / 'astrid.sqlite'}")
    yield cat
    cat.close()


def _observation(catalog: Catalog, sha: str = "a" * 64, role: str = "science", **kw: Any) -> int:
    values: dict[str, Any] = {
        "content_sha256": sha,
        "name": f"img-{sha[:4]}",
        "path": Path(f"/data/{sha[:4]}.fits"),
        "role": role,
        "mjd": 60000.5,
        "filter": "r",
        "exptime": 30.0,
        "gain": 1.5,
        "shape": (512, 256),
        "wcs_header": "CTYPE1  = 'RA---TAN'",
    }
    values.update(kw)
    return catalog.register_observation(**values)


def _candidate(i: int, **kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "x": 10.0 + i,
        "y": 20.0 + i,
        "ra": 150.0 + i * 1e-3,
        "dec": 2.0 - i * 1e-3,
        "sign": 1 if i % 2 == 0 else -1,
        "scorr": 6.0 + i,
        "snr": 7.0 + i,
        "flux": 100.0 * (i + 1),
        "flux_err": 10.0,
        "mag": 20.0 - i,
        "mag_err": 0.1,
        "fwhm": 3.2,
        "elongation": 1.1,
        "n_bad_pixels": 0,
        "dist_nearest_ref_source_arcsec": 12.5,
        "cutout_science_key": f"sha256/aa/bb/{'a' * 64}.npy",
    }
    values.update(kw)
    return values


@pytest.fixture
def run_id(catalog: Catalog) -> int:
    sci = _observation(catalog, "a" * 64)
    ref = _observation(catalog, "b" * 64, role="reference")
    return catalog.start_run(
        key="run-1", science_id=sci, reference_id=ref, config={"threshold": 5.0}, code_version="1"
    )


def _finish(catalog: Catalog, run_id: int, candidates: list[dict[str, Any]]) -> None:
    catalog.finish_run(
        run_id,
        candidates=candidates,
        stats={"residual": 0.05},
        timings={"zogy": 1.2},
        products={"diff": "sha256/..."},
    )


# -- observations ---------------------------------------------------------------------------


def test_register_observation_is_idempotent(catalog: Catalog) -> None:
    first = _observation(catalog)
    again = _observation(catalog, name="renamed", path="/elsewhere.fits")
    assert again == first
    rows = catalog.observations()
    assert len(rows) == 1
    row = rows[0]
    assert row["name"] == "img-aaaa"  # the first registration wins
    assert row["path"] == "/data/aaaa.fits"
    assert (row["shape_y"], row["shape_x"]) == (512, 256)
    assert row["status"] == "registered"
    assert row["created_at"].tzinfo is UTC
    assert _observation(catalog, "c" * 64) != first


def test_register_fills_in_a_missing_store_key(catalog: Catalog) -> None:
    obs = _observation(catalog)
    assert _observation(catalog, store_key="sha256/x") == obs
    assert catalog.observations()[0]["store_key"] == "sha256/x"
    assert _observation(catalog, store_key="sha256/y") == obs
    assert catalog.observations()[0]["store_key"] == "sha256/x"


def test_register_nan_mjd_is_stored_as_null(catalog: Catalog) -> None:
    _observation(catalog, mjd=float("nan"), filter=None)
    row = catalog.observations()[0]
    assert row["mjd"] is None and row["filter"] is None


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"role": "template"}, "role"),
        ({"shape": (1, 2, 3)}, "shape"),
        ({"gain": "x"}, "gain"),
        ({"exptime": float("nan")}, "exptime must be a finite number"),
    ],
)
def test_register_rejects_bad_values(catalog: Catalog, kw: dict[str, Any], match: str) -> None:
    with pytest.raises(StorageError, match=match):
        _observation(catalog, **kw)
    assert catalog.observations() == []


def test_mark_observation(catalog: Catalog) -> None:
    obs = _observation(catalog)
    catalog.mark_observation(obs, status="failed", error="no WCS")
    row = catalog.observations()[0]
    assert (row["status"], row["error"]) == ("failed", "no WCS")
    catalog.mark_observation(obs, status="processed")
    row = catalog.observations()[0]
    assert (row["status"], row["error"]) == ("processed", None)
    with pytest.raises(StorageError, match="status"):
        catalog.mark_observation(obs, status="exploded")
    with pytest.raises(StorageError, match="no observation with id 99"):
        catalog.mark_observation(99, status="processed")


# -- runs -----------------------------------------------------------------------------------


def test_run_lifecycle(catalog: Catalog, run_id: int) -> None:
    info = catalog.find_run(key="run-1")
    assert isinstance(info, RunRecord)
    assert (info.id, info.status, info.n_candidates) == (run_id, "running", 0)
    assert info.started_at is not None and info.started_at.tzinfo is UTC
    assert catalog.find_run(key="other") is None

    _finish(catalog, run_id, [_candidate(0), _candidate(1)])
    info = catalog.find_run(key="run-1")
    assert info is not None
    assert (info.status, info.n_candidates, info.failed_stage, info.error) == (
        "done",
        2,
        None,
        None,
    )
    assert info.started_at is not None and info.finished_at is not None
    assert info.finished_at >= info.started_at
    assert catalog.runs() == [info]

    with pytest.raises(StorageError, match="already done") as exc:
        catalog.start_run(key="run-1", science_id=1, reference_id=2, config={}, code_version="1")
    assert exc.value.details["run_id"] == run_id


def test_failed_run_is_reused_on_retry(catalog: Catalog, run_id: int) -> None:
    catalog.fail_run(run_id, stage="alignment", error="3 stars matched, need 5")
    info = catalog.find_run(key="run-1")
    assert info is not None
    assert (info.status, info.failed_stage, info.error) == (
        "failed",
        "alignment",
        "3 stars matched, need 5",
    )
    again = catalog.start_run(
        key="run-1", science_id=1, reference_id=2, config={"threshold": 6}, code_version="2"
    )
    assert again == run_id
    info = catalog.find_run(key="run-1")
    assert info is not None
    assert (info.status, info.failed_stage, info.error, info.code_version) == (
        "running",
        None,
        None,
        "2",
    )
    # a run left "running" by a dead worker is reused too
    assert (
        catalog.start_run(key="run-1", science_id=1, reference_id=2, config={}, code_version="2")
        == run_id
    )
    assert len(catalog.runs()) == 1


def test_start_run_with_unknown_observation_fails(catalog: Catalog) -> None:
    with pytest.raises(StorageError, match=r"(?i)foreign key"):
        catalog.start_run(key="k", science_id=42, reference_id=None, config={}, code_version="1")
    assert catalog.runs() == []


def test_unknown_run_ids(catalog: Catalog) -> None:
    with pytest.raises(StorageError, match="no processing run with id 7"):
        catalog.fail_run(7, stage="x", error="y")
    with pytest.raises(StorageError, match="no processing run with id 7"):
        _finish(catalog, 7, [])


# -- candidates -----------------------------------------------------------------------------


def test_candidates_round_trip(catalog: Catalog, run_id: int) -> None:
    _finish(catalog, run_id, [_candidate(0, extra_score=0.9, tags=["a"]), _candidate(1)])
    rows = catalog.candidates(run_id=run_id)
    assert [r["number"] for r in rows] == [0, 1]
    first = rows[0]
    expected = _candidate(0)
    for name, value in expected.items():
        assert first[name] == value, name
    assert first["observation_id"] == 1  # defaults to the run's science image
    assert first["run_id"] == run_id
    assert first["extra_score"] == 0.9 and first["tags"] == ["a"]
    assert "features_json" not in first
    assert "extra_score" not in rows[1]
    healpix = HEALPix(nside=2**16, order="nested")
    assert first["healpix"] == int(healpix.lonlat_to_healpix(150.0 * u.deg, 2.0 * u.deg))
    assert catalog.candidates(observation_id=1) == rows
    assert catalog.candidates(observation_id=2) == []
    assert catalog.candidates() == rows


def test_numpy_values_and_nan_become_plain_or_none(catalog: Catalog, run_id: int) -> None:
    cand = _candidate(
        0,
        x=np.float32(10.5),
        sign=np.int64(-1),
        n_bad_pixels=np.int32(3),
        mag=float("nan"),
        mag_err=np.float64("nan"),
        flux=np.inf,
        dist_nearest_ref_source_arcsec=None,
        extra=np.array([1.0, np.nan]),
        extra_scalar=np.float64("nan"),
    )
    _finish(catalog, run_id, [cand])
    row = catalog.candidates(run_id=run_id)[0]
    assert row["x"] == 10.5 and type(row["x"]) is float
    assert row["sign"] == -1 and row["n_bad_pixels"] == 3
    assert row["mag"] is None and row["mag_err"] is None and row["flux"] is None
    assert row["dist_nearest_ref_source_arcsec"] is None
    assert row["extra"] == [1.0, None] and row["extra_scalar"] is None


def test_finish_run_replaces_candidates(catalog: Catalog, run_id: int) -> None:
    _finish(catalog, run_id, [_candidate(i) for i in range(3)])
    _finish(catalog, run_id, [_candidate(i, scorr=-9.0) for i in range(2)])
    rows = catalog.candidates(run_id=run_id)
    assert [r["number"] for r in rows] == [0, 1]
    assert all(r["scorr"] == -9.0 for r in rows)
    info = catalog.find_run(key="run-1")
    assert info is not None and info.n_candidates == 2
    _finish(catalog, run_id, [])
    assert catalog.candidates(run_id=run_id) == []


def test_failing_finish_run_rolls_back(catalog: Catalog, run_id: int) -> None:
    _finish(catalog, run_id, [_candidate(i) for i in range(3)])
    before = catalog.candidates(run_id=run_id)
    run_before = catalog.find_run(key="run-1")
    # sign=0 passes the Python checks and is refused by the database's CHECK constraint,
    # after the old candidates were already deleted in the same transaction.
    with pytest.raises(StorageError, match=r"(?i)check constraint") as exc:
        _finish(catalog, run_id, [_candidate(0), _candidate(1, sign=0)])
    assert exc.value.details["run_id"] == run_id
    assert catalog.candidates(run_id=run_id) == before
    assert catalog.find_run(key="run-1") == run_before


def test_failing_finish_run_keeps_a_running_run_running(catalog: Catalog, run_id: int) -> None:
    with pytest.raises(StorageError, match="candidate 1: ra is required"):
        _finish(catalog, run_id, [_candidate(0), _candidate(1, ra=float("nan"))])
    with pytest.raises(StorageError, match="candidate 0: x is required"):
        _finish(catalog, run_id, [{k: v for k, v in _candidate(0).items() if k != "x"}])
    with pytest.raises(StorageError, match="sign must be an integer"):
        _finish(catalog, run_id, [_candidate(0, sign=0.5)])
    with pytest.raises(StorageError, match=r"dec must be within \[-90, 90\]"):
        _finish(catalog, run_id, [_candidate(0, dec=91.0)])
    with pytest.raises(StorageError, match="cannot store object"):
        _finish(catalog, run_id, [_candidate(0, weird=object())])
    info = catalog.find_run(key="run-1")
    assert info is not None and (info.status, info.n_candidates) == ("running", 0)
    assert catalog.candidates() == []


# -- events ---------------------------------------------------------------------------------


def test_events_round_trip(catalog: Catalog) -> None:
    t0 = datetime.now(UTC)
    catalog.record_event("ObservationIngested", {"observation_id": 1, "path": Path("/a.fits")})
    catalog.record_event("CandidatesFound", {"run_id": 1, "n": np.int64(3), "std": math.nan})
    catalog.record_event("ObservationIngested", {"observation_id": 2})
    events = catalog.events()
    assert [e.type for e in events] == [
        "ObservationIngested",
        "CandidatesFound",
        "ObservationIngested",
    ]
    assert events[0].payload == {"observation_id": 1, "path": "/a.fits"}
    assert events[1].payload == {"run_id": 1, "n": 3, "std": None}
    assert all(e.created_at.tzinfo is UTC and e.created_at >= t0 for e in events)
    assert [e.id for e in events] == sorted(e.id for e in events)
    ingested = catalog.events(type="ObservationIngested")
    assert [e.payload["observation_id"] for e in ingested] == [1, 2]
    assert catalog.events(type="Nothing") == []


def test_catalog_survives_reconnect(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'astrid.sqlite'}"
    with connect(url) as first:
        obs = _observation(first)
        first.record_event("E", {})
    with connect(url) as second:
        assert _observation(second) == obs
        assert [e.type for e in second.events()] == ["E"]


def test_in_memory_catalog() -> None:
    with connect("sqlite://") as cat:
        obs = _observation(cat)
        assert cat.observations()[0]["id"] == obs


@pytest.mark.sqlite
def test_new_sqlite_catalog_is_private(tmp_path: Path) -> None:
    # the catalog holds API key hashes and the audit log: owner-only, whatever the umask
    path = tmp_path / "private" / "astrid.sqlite"
    catalog = connect(f"sqlite:///{path}")
    catalog.engine.dispose()
    assert path.stat().st_mode & 0o777 == 0o600
    for sidecar in path.parent.glob("astrid.sqlite-*"):
        assert sidecar.stat().st_mode & 0o077 == 0, sidecar
