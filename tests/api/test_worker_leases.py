"""Two job workers (two service replicas) on one catalog: a job that runs longer than the
lease is kept by its worker's heartbeat and runs once; a worker that stops renewing loses
the job to the other, which finishes it once, and the stale worker's outcome is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from astrid.api.worker import JobWorker
from astrid.catalog import Catalog, connect
from astrid.catalog.jobs import claim_job, enqueue_job, finish_job, renew_job, requeue_stale_jobs
from astrid.catalog.jobs import job as job_record
from astrid.catalog.models import Job, utcnow
from astrid.errors import ClaimLostError
from astrid.observations.fits_reader import read_image
from astrid.observations.hashing import file_sha256
from astrid.pipeline.config import PipelineConfig
from astrid.pipeline.inputs import register_observation
from astrid.service.metrics import Metrics
from astrid.simulation import simulate_pair
from astrid.store import ObjectStore
from postgres_server import PostgresServer
from slow_frames import slow_marked_frames
from small_field import SMALL_FIELD


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'astrid.sqlite'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture
def catalog(url: str) -> Iterator[Catalog]:
    with connect(url) as opened:
        yield opened


def _queue(catalog: Catalog) -> int:
    return enqueue_job(
        catalog, kind="process", payload={"n": 1}, observation_id=None, actor="test"
    ).id


def test_a_renewed_lease_is_never_requeued_and_a_stale_worker_cannot_finish(
    catalog: Catalog,
) -> None:
    job_id = _queue(catalog)
    first = claim_job(catalog, kinds=("process",), lease=timedelta(seconds=60))
    assert first is not None and first.attempts == 1
    # however long ago it started, a job whose lease holds is not stale
    assert requeue_stale_jobs(catalog, lease=timedelta(seconds=-1)) == 0
    assert renew_job(catalog, job_id, 1, timedelta(seconds=60))
    with catalog.session() as session, session.begin():
        session.execute(
            update(Job).where(Job.id == job_id).values(lease_expires_at=utcnow() - timedelta(1))
        )
    assert requeue_stale_jobs(catalog, lease=timedelta(hours=1)) == 1
    second = claim_job(catalog, kinds=("process",), lease=timedelta(seconds=60))
    assert second is not None and second.attempts == 2
    assert not renew_job(catalog, job_id, 1, timedelta(seconds=60))
    with pytest.raises(ClaimLostError, match="taken over since attempt 1"):
        finish_job(catalog, job_id, status="failed", run_id=None, error="late", attempt=1)
    finish_job(catalog, job_id, status="done", run_id=None, error=None, attempt=2)
    found = job_record(catalog, job_id)
    assert found is not None and (found.status, found.error) == ("done", None)


def _replica(url: str, root: Path, name: str, lease_s: float) -> JobWorker:
    return JobWorker(
        connect(url),
        ObjectStore(str(root / "store")),
        PipelineConfig(),
        work_dir=root / name,
        metrics=Metrics(),
        lease=timedelta(seconds=lease_s),
        poll_seconds=0.2,
        frame_function=slow_marked_frames,
    )


def test_two_workers_run_each_job_once_even_one_longer_than_the_lease(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASTRID_TEST_FRAME_SLEEP_S", "7")
    root = tmp_path / "service"
    pair = simulate_pair(SMALL_FIELD, seed=3).write(tmp_path / "inputs")
    slow = tmp_path / "inputs" / "slow.fits"
    simulate_pair(SMALL_FIELD, seed=3, epoch=1).science.to_hdu().writeto(slow)
    catalog = connect(url)
    store = ObjectStore(str(root / "store"))
    ids = {
        name: register_observation(
            catalog, store, path, read_image(path), sha256=file_sha256(path), role=role
        )
        for name, role, path in (
            ("reference", "reference", pair["reference"]),
            ("science", "science", pair["science"]),
            ("slow", "science", slow),
        )
    }
    jobs = [
        enqueue_job(
            catalog,
            kind="process",
            payload={"observation_id": ids[name], "reference_id": ids["reference"]},
            observation_id=ids[name],
            actor="test",
        ).id
        for name in ("slow", "science")
    ]
    # a lease of 3 s: the slow job (7 s) outlives it twice over; heartbeats every second
    # (a loaded machine may stall a thread for over a second, so the lease is not shorter)
    workers = [_replica(url, root, f"w{i}", lease_s=3.0) for i in range(2)]
    for w in workers:
        w.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(
            (j := job_record(catalog, job_id)) is not None and j.status in ("done", "failed")
            for job_id in jobs
        ):
            time.sleep(0.3)
        time.sleep(3.5)  # past another lease: a wrongly requeued job would be claimed again
        for w in workers:
            w.stop()
        for job_id in jobs:
            found = job_record(catalog, job_id)
            assert found is not None and (found.status, found.attempts) == ("done", 1), found
        runs = catalog.runs()
        assert len(runs) == 2 and all(r.status == "done" for r in runs)
        found_events = catalog.events(type="CandidatesFound")
        assert sorted(e.payload["run_id"] for e in found_events) == sorted(r.id for r in runs)
    finally:  # closed even when an assertion fails (no connection left to the GC)
        for w in workers:
            w.stop()
            w.catalog.close()
        catalog.close()


def test_a_job_whose_worker_died_is_finished_once_by_the_other_after_the_lease(
    url: str, tmp_path: Path
) -> None:
    root = tmp_path / "service"
    pair = simulate_pair(SMALL_FIELD, seed=3).write(tmp_path / "inputs")
    catalog = connect(url)
    store = ObjectStore(str(root / "store"))
    ids = {
        role: register_observation(
            catalog, store, pair[role], read_image(pair[role]), sha256=file_sha256(pair[role]),
            role=role,
        )
        for role in ("reference", "science")
    }  # fmt: skip
    job_id = enqueue_job(
        catalog,
        kind="process",
        payload={"observation_id": ids["science"], "reference_id": ids["reference"]},
        observation_id=ids["science"],
        actor="test",
    ).id
    # a worker claims it and is killed at once: no heartbeat renews its 1 s lease
    dead = claim_job(catalog, kinds=("process",), lease=timedelta(seconds=1))
    assert dead is not None and dead.id == job_id
    alive = _replica(url, root, "alive", lease_s=3.0)  # its own heartbeat keeps it
    alive.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = job_record(catalog, job_id)
        if found is not None and found.status in ("done", "failed"):
            break
        time.sleep(0.2)
    alive.stop()
    found = job_record(catalog, job_id)
    assert found is not None and (found.status, found.attempts) == ("done", 2), found
    assert len(catalog.runs()) == 1 and len(catalog.events(type="CandidatesFound")) == 1
    # the dead worker, were it to wake, could not record its outcome
    with pytest.raises(ClaimLostError):
        finish_job(catalog, job_id, status="failed", run_id=None, error="woke", attempt=1)
    alive.catalog.close()
    catalog.close()
