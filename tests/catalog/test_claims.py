"""Claims on runs (leases and fencing tokens) on SQLite and on a real PostgreSQL server:
one holder at a time, lapsed leases taken over, stale holders' writes refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from astrid.catalog import Catalog, connect
from astrid.catalog.claims import claim_run, renew_claim
from astrid.catalog.models import ProcessingRun, utcnow
from astrid.errors import ClaimLostError
from postgres_server import backend_url


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    with connect(backend_url(request, tmp_path)) as cat:
        yield cat


def _science(catalog: Catalog, tmp_path: Path) -> int:
    return catalog.register_observation(
        content_sha256="a" * 64,
        name="sci.fits",
        path=str(tmp_path / "sci.fits"),
        role="science",
        mjd=60000.0,
        filter="r",
        exptime=60.0,
        gain=1.0,
        shape=(64, 64),
        wcs_header=None,
    )


def _claim(catalog: Catalog, science: int, owner: str, lease_s: float = 60.0):  # type: ignore[no-untyped-def]
    return claim_run(
        catalog,
        key="k1",
        science_id=science,
        reference_id=None,
        config={},
        code_version="test",
        owner=owner,
        lease_s=lease_s,
    )


def _expire(catalog: Catalog, run_id: int) -> None:
    with catalog.session() as session, session.begin():
        session.execute(
            update(ProcessingRun)
            .where(ProcessingRun.id == run_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


def test_one_holder_at_a_time_and_a_lapsed_lease_is_taken_over(
    catalog: Catalog, tmp_path: Path
) -> None:
    science = _science(catalog, tmp_path)
    first = _claim(catalog, science, "host:1:1")
    assert first.reason == "claimed" and first.claim is not None and first.claim.fence == 1
    second = _claim(catalog, science, "host:2:2")
    assert second.reason == "held" and second.claim is None
    assert second.run.id == first.claim.run_id and second.run.owner == "host:1:1"
    assert renew_claim(catalog, first.claim)
    _expire(catalog, first.claim.run_id)
    taken = _claim(catalog, science, "host:2:2")
    assert taken.claim is not None and taken.claim.fence == 2
    assert taken.claim.run_id == first.claim.run_id  # the same run, its next holder
    # the stale holder can neither renew, begin, finish nor fail the run
    assert not renew_claim(catalog, first.claim)
    with pytest.raises(ClaimLostError):
        catalog.begin_run(first.claim.run_id, owner="host:1:1", fence=1)
    with pytest.raises(ClaimLostError, match="claimed by another process"):
        catalog.finish_run(
            first.claim.run_id,
            candidates=[],
            stats={},
            timings={},
            products={},
            association_radius_arcsec=None,
            fence=1,
        )
    with pytest.raises(ClaimLostError):
        catalog.fail_run(first.claim.run_id, stage="x", error="late", fence=1)
    # the current holder finishes; then the run is done for everyone
    catalog.begin_run(taken.claim.run_id, owner="host:2:2", fence=2)
    catalog.finish_run(
        taken.claim.run_id,
        candidates=[],
        stats={},
        timings={},
        products={},
        association_radius_arcsec=None,
        fence=2,
    )
    again = _claim(catalog, science, "host:3:3")
    assert again.reason == "done" and again.run.status == "done"
    with pytest.raises(ClaimLostError):  # a done run is never marked failed by a holder
        catalog.fail_run(taken.claim.run_id, stage="x", error="late", fence=2)
    assert catalog.find_run(key="k1").status == "done"  # type: ignore[union-attr]


def test_a_failed_run_is_claimed_again_and_the_same_owner_keeps_its_run(
    catalog: Catalog, tmp_path: Path
) -> None:
    science = _science(catalog, tmp_path)
    first = _claim(catalog, science, "host:1:1")
    assert first.claim is not None
    mine = _claim(catalog, science, "host:1:1")  # a retry of this process
    assert mine.claim is not None and mine.claim.fence == 2
    catalog.fail_run(first.claim.run_id, stage="x", error="bad frame", fence=2)
    other = _claim(catalog, science, "host:2:2")
    assert other.claim is not None and other.claim.fence == 3


def test_concurrent_claims_of_one_key_have_exactly_one_winner(
    catalog: Catalog, tmp_path: Path
) -> None:
    science = _science(catalog, tmp_path)
    barrier = threading.Barrier(6)
    results = []
    lock = threading.Lock()

    def contend(i: int) -> None:
        barrier.wait()
        result = _claim(catalog, science, f"host:{i}:{i}")
        with lock:
            results.append(result)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r.claim is not None]
    assert len(winners) == 1 and len(results) == 6
    assert {r.run.id for r in results} == {winners[0].claim.run_id}  # type: ignore[union-attr]
