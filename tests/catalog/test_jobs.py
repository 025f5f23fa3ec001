"""The job queue: claims count attempts; a job whose worker keeps dying is given up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from astrid.catalog import Catalog, connect
from astrid.catalog.jobs import (
    claim_job,
    enqueue_job,
    finish_job,
    gave_up_reason,
    job,
    requeue_stale_jobs,
)

# A lease that has always expired: every running job is stale at once.
EXPIRED = timedelta(seconds=-1)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    opened = connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}")
    yield opened
    opened.close()


def _queue(catalog: Catalog) -> int:
    return enqueue_job(
        catalog, kind="process", payload={"n": 1}, observation_id=None, actor="test"
    ).id


def test_a_job_whose_lease_expires_each_time_is_given_up(catalog: Catalog) -> None:
    job_id = _queue(catalog)
    for attempt in (1, 2, 3):
        claimed = claim_job(catalog, kinds=("process",), max_attempts=3)
        assert claimed is not None and claimed.id == job_id
        assert claimed.attempts == attempt
        # the worker dies: the job is never finished, its lease runs out
        requeued = requeue_stale_jobs(catalog, lease=EXPIRED, max_attempts=3)
        assert requeued == (1 if attempt < 3 else 0)
    found = job(catalog, job_id)
    assert found is not None
    assert (found.status, found.attempts) == ("failed", 3)
    assert found.error == gave_up_reason(3)
    assert found.error == "gave up after 3 attempts (worker died or lease expired each time)"
    assert found.finished_at is not None
    assert claim_job(catalog, kinds=("process",), max_attempts=3) is None


def test_a_job_that_finishes_is_not_given_up(catalog: Catalog) -> None:
    job_id = _queue(catalog)
    claim_job(catalog, kinds=("process",), max_attempts=1)
    finish_job(catalog, job_id, status="done", run_id=None, error=None)
    assert requeue_stale_jobs(catalog, lease=EXPIRED, max_attempts=1) == 0
    found = job(catalog, job_id)
    assert found is not None and (found.status, found.error) == ("done", None)


def test_the_claim_refuses_a_job_past_the_maximum(catalog: Catalog) -> None:
    # requeued without a maximum (e.g. by an older worker): the next claim gives it up
    job_id = _queue(catalog)
    for _ in range(2):
        assert claim_job(catalog, kinds=("process",)) is not None
        assert requeue_stale_jobs(catalog, lease=EXPIRED) == 1
    other = _queue(catalog)
    claimed = claim_job(catalog, kinds=("process",), max_attempts=2)
    assert claimed is not None and claimed.id == other
    found = job(catalog, job_id)
    assert found is not None
    assert (found.status, found.error) == ("failed", gave_up_reason(2))
