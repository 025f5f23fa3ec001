"""The job queue of the embedded service: uploaded observations waiting to be processed.

A job is claimed by flipping its status from ``queued`` to ``running`` in one conditional
UPDATE, so two workers never run the same job; each claim counts one attempt. A job left
``running`` past its lease (its worker died or hung: a live worker renews the lease while
the job runs, `renew_job`) is put back in the queue; the pipeline's run keys and claims make
the retry idempotent. The attempt number of a claim is its fencing token: `finish_job` with
it is refused once the job was claimed again, so a stale worker never overwrites the
outcome of the one that took over. A job whose lease expired on each of its
``max_attempts`` claims (it crashes every worker that takes it) is not retried again: it
is marked ``failed`` with the reason `gave_up_reason` gives.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from astrid.catalog.access import audit_entry
from astrid.catalog.json_columns import dumps_json, loads_json
from astrid.catalog.models import Job, utcnow
from astrid.catalog.query_params import newest_first
from astrid.catalog.records import record_from_row
from astrid.catalog.repository import Catalog, catalog_errors
from astrid.errors import ClaimLostError, StorageError

logger = logging.getLogger(__name__)

__all__ = [
    "JobRecord",
    "claim_job",
    "enqueue_job",
    "finish_job",
    "gave_up_reason",
    "job",
    "jobs",
    "open_job_for",
    "renew_job",
    "requeue_stale_jobs",
]


@dataclass(frozen=True)
class JobRecord:
    """A queued unit of work and what became of it."""

    id: int
    kind: str
    status: str
    payload: dict[str, Any]
    observation_id: int | None
    run_id: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int = 0


def gave_up_reason(attempts: int) -> str:
    """The error of a job given up after ``attempts`` claims that never finished."""
    return f"gave up after {attempts} attempts (worker died or lease expired each time)"


def _job_record(job_row: Job) -> JobRecord:
    """A `Job` row as a record."""
    return record_from_row(JobRecord, job_row, payload=loads_json(job_row.payload_json))


def enqueue_job(
    catalog: Catalog,
    *,
    kind: str,
    payload: dict[str, Any],
    observation_id: int | None,
    actor: str,
) -> JobRecord:
    """Queue a job and record who queued it."""
    with catalog_errors(f"queue a {kind} job"), catalog.session() as session:
        with session.begin():
            row = Job(
                kind=kind,
                status="queued",
                attempts=0,
                payload_json=dumps_json(payload, f"payload of {kind} job"),
                observation_id=observation_id,
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            session.add(
                audit_entry(
                    actor=actor, action="job.create", target=f"job:{row.id}", detail=payload
                )
            )
        return _job_record(row)


def open_job_for(catalog: Catalog, *, kind: str, observation_id: int) -> JobRecord | None:
    """A queued or running job of ``kind`` for the observation, if any."""
    query = (
        select(Job)
        .where(
            Job.kind == kind,
            Job.observation_id == observation_id,
            Job.status.in_(("queued", "running")),
        )
        .order_by(Job.id)
        .limit(1)
    )
    with catalog_errors("find an open job"), catalog.session() as session:
        row = session.scalar(query)
        return None if row is None else _job_record(row)


def claim_job(
    catalog: Catalog,
    *,
    kinds: tuple[str, ...],
    max_attempts: int | None = None,
    lease: timedelta | None = None,
) -> JobRecord | None:
    """Take the oldest queued job of one of ``kinds``, marking it running; None if none.

    The claim counts one attempt (the record's ``attempts`` is its fencing token). With
    ``max_attempts``, a queued job that was already claimed that often (a lowered setting,
    or a requeue by an older worker) is marked ``failed`` instead of being run again. With
    ``lease``, the claim holds until now + lease unless renewed (`renew_job`).
    """
    with catalog_errors("claim a job"), catalog.session() as session:
        for _ in range(5):
            with session.begin():
                if max_attempts is not None:
                    _give_up(session, Job.status == "queued", Job.attempts >= max_attempts)
                job_id = session.scalar(
                    select(Job.id)
                    .where(Job.status == "queued", Job.kind.in_(kinds))
                    .order_by(Job.id)
                    .limit(1)
                )
                if job_id is None:
                    return None
                taken = session.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == "queued")
                    .values(
                        status="running",
                        started_at=utcnow(),
                        error=None,
                        attempts=Job.attempts + 1,
                        lease_expires_at=None if lease is None else utcnow() + lease,
                    )
                )
                if int(getattr(taken, "rowcount", 0)) == 1:
                    row = session.get(Job, job_id)
                    assert row is not None
                    session.refresh(row)
                    return _job_record(row)
    return None


def finish_job(
    catalog: Catalog,
    job_id: int,
    *,
    status: str,
    run_id: int | None,
    error: str | None,
    attempt: int | None = None,
) -> None:
    """Mark a running job ``done`` or ``failed``.

    With ``attempt`` (the claim's ``attempts``), only while that claim holds.

    Raises
    ------
    ClaimLostError
        If ``attempt`` is given and the job was requeued or claimed again since.
    StorageError
        For another status or an unknown job.
    """
    if status not in ("done", "failed"):
        raise StorageError(f"a job finishes done or failed, not {status!r}", job_id=job_id)
    query = update(Job).where(Job.id == job_id)
    if attempt is not None:
        query = query.where(Job.attempts == attempt, Job.status == "running")
    with catalog_errors(f"finish job {job_id}"), catalog.session() as session:
        with session.begin():
            result = session.execute(
                query.values(status=status, run_id=run_id, error=error, finished_at=utcnow())
            )
            if int(getattr(result, "rowcount", 0)) == 0:
                if attempt is not None and session.get(Job, job_id) is not None:
                    raise ClaimLostError(
                        f"job {job_id} was taken over since attempt {attempt}; "
                        f"this worker's outcome ({status}) is not recorded",
                        job_id=job_id,
                    )
                raise StorageError(f"no job with id {job_id}", job_id=job_id)


def renew_job(catalog: Catalog, job_id: int, attempt: int, lease: timedelta) -> bool:
    """Extend the lease of a running job's claim; False when the claim was lost."""
    with catalog_errors(f"renew job {job_id}"), catalog.session() as session:
        with session.begin():
            result = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.attempts == attempt, Job.status == "running")
                .values(lease_expires_at=utcnow() + lease)
            )
            return int(getattr(result, "rowcount", 0)) == 1


def _give_up(session: Session, *conditions: ColumnElement[bool]) -> int:
    """Mark failed, with the give-up reason, the jobs matching ``conditions``; how many."""
    found = session.execute(select(Job.id, Job.attempts).where(*conditions)).all()
    for job_id, attempts in found:
        session.execute(
            update(Job)
            .where(Job.id == job_id, *conditions)
            .values(status="failed", error=gave_up_reason(attempts), finished_at=utcnow())
        )
        logger.error("job %d: %s", job_id, gave_up_reason(attempts))
    return len(found)


def requeue_stale_jobs(
    catalog: Catalog, *, lease: timedelta, max_attempts: int | None = None
) -> int:
    """Put back in the queue the running jobs whose lease lapsed; how many.

    A job claimed with a lease is stale once ``lease_expires_at`` has passed (its worker
    stopped renewing it); one claimed without (an older worker) once it has run for longer
    than ``lease``. With ``max_attempts``, a stale job already claimed that often is marked
    ``failed`` (`gave_up_reason`) instead, and not counted.
    """
    now = utcnow()
    stale = or_(
        and_(Job.lease_expires_at.is_not(None), Job.lease_expires_at < now),
        and_(Job.lease_expires_at.is_(None), Job.started_at < now - lease),
    )
    with catalog_errors("requeue stale jobs"), catalog.session() as session:
        with session.begin():
            if max_attempts is not None:
                _give_up(session, Job.status == "running", stale, Job.attempts >= max_attempts)
            result = session.execute(
                update(Job)
                .where(Job.status == "running", stale)
                .values(status="queued", started_at=None, lease_expires_at=None)
            )
            return int(getattr(result, "rowcount", 0))


def jobs(
    catalog: Catalog, *, status: str | None = None, before_id: int | None = None, limit: int = 100
) -> list[JobRecord]:
    """Jobs, newest first."""
    query = newest_first(select(Job), Job.id, before_id=before_id, limit=limit)
    if status is not None:
        query = query.where(Job.status == status)
    with catalog_errors("read jobs"), catalog.session() as session:
        return [_job_record(j) for j in session.scalars(query)]


def job(catalog: Catalog, job_id: int) -> JobRecord | None:
    """One job, or None."""
    with catalog_errors(f"read job {job_id}"), catalog.session() as session:
        found = session.get(Job, job_id)
        return None if found is None else _job_record(found)
