"""The state of the work queues as the catalog holds it: what every replica reports.

Jobs and runs by status, the age of the oldest queued job and of the oldest unfinished run,
and failed runs by stage — read from the database at each scrape of ``/metrics``, so any
number of service replicas and `astrid run` processes report the same truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from astrid.catalog.models import Job, ProcessingRun, utcnow
from astrid.catalog.repository import Catalog, catalog_errors

__all__ = ["QueueStats", "queue_stats"]


@dataclass(frozen=True)
class QueueStats:
    """Counts by status, failure stages and ages (seconds; 0 when nothing waits)."""

    jobs: dict[str, int]
    runs: dict[str, int]
    failed_runs_by_stage: dict[str, int]
    oldest_queued_job_s: float
    oldest_unfinished_run_s: float


def _age(now: datetime, then: datetime | None) -> float:
    return 0.0 if then is None else max(0.0, (now - then).total_seconds())


def queue_stats(catalog: Catalog) -> QueueStats:
    """Read the queues' state (four small aggregate queries).

    Raises
    ------
    StorageError
        If the database cannot be read.
    """
    with catalog_errors("read the queue statistics"), catalog.session() as session:
        jobs = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        runs = dict(
            session.execute(
                select(ProcessingRun.status, func.count()).group_by(ProcessingRun.status)
            ).all()
        )
        stages = dict(
            session.execute(
                select(ProcessingRun.failed_stage, func.count())
                .where(ProcessingRun.status == "failed")
                .group_by(ProcessingRun.failed_stage)
            ).all()
        )
        oldest_job = session.scalar(select(func.min(Job.created_at)).where(Job.status == "queued"))
        oldest_run = session.scalar(
            select(func.min(ProcessingRun.started_at)).where(
                ProcessingRun.status.in_(("queued", "running"))
            )
        )
    now = utcnow()
    return QueueStats(
        jobs={str(k): int(v) for k, v in jobs.items()},
        runs={str(k): int(v) for k, v in runs.items()},
        failed_runs_by_stage={str(k or "unknown"): int(v) for k, v in stages.items()},
        oldest_queued_job_s=_age(now, oldest_job),
        oldest_unfinished_run_s=_age(now, oldest_run),
    )
