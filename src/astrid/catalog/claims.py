"""Claims on runs: one process computes a run key at a time, and only its result is kept.

A process *claims* a run before computing it (`claim_run`). The claim is a lease: the
holder renews it while it works (`renew_claim`, a heartbeat), and once it lapses — the
holder died, hung or lost its connection — any process may claim the run again. Every
claim increments the run's ``fence`` token; the result is written only with the current
token (`Catalog.begin_run`, `Catalog.finish_run` and `Catalog.fail_run` take it), so a
stale holder that wakes up after its lease was taken over cannot overwrite the new
holder's result or mark its finished run failed.

Each claim is one compare-and-set ``UPDATE ... WHERE id = :id AND fence = :seen`` (or the
insert of a new key, unique in the table), atomic on SQLite and PostgreSQL alike: of two
processes that see the same state, exactly one wins.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from astrid.catalog.json_columns import dumps_json
from astrid.catalog.models import ProcessingRun, utcnow
from astrid.catalog.repository import Catalog, catalog_errors
from astrid.catalog.run_records import RunRecord, run_record
from astrid.errors import StorageError

__all__ = ["DEFAULT_LEASE_S", "Claim", "ClaimResult", "claim_run", "renew_claim"]

logger = logging.getLogger(__name__)

#: How long a claim holds without a heartbeat (seconds).
DEFAULT_LEASE_S = 120.0


@dataclass(frozen=True)
class Claim:
    """A run this process holds: its id and the fencing token of the claim."""

    run_id: int
    fence: int


@dataclass(frozen=True)
class ClaimResult:
    """What `claim_run` found: ``claim`` when this process now holds the run, else why not
    (``"done"``: finished already; ``"held"``: another process holds a live lease) and the
    run as it stands."""

    claim: Claim | None
    reason: Literal["claimed", "done", "held"]
    run: RunRecord


def _held(run: ProcessingRun, owner: str, now: datetime) -> bool:
    """Whether another process holds ``run`` under a live lease."""
    if run.status not in ("queued", "running") or run.owner == owner:
        return False
    return run.lease_expires_at is not None and run.lease_expires_at > now


def claim_run(
    catalog: Catalog,
    *,
    key: str,
    science_id: int,
    reference_id: int | None,
    config: Mapping[str, Any],
    code_version: str,
    owner: str,
    lease_s: float = DEFAULT_LEASE_S,
) -> ClaimResult:
    """Claim the run of ``key`` for ``owner`` (queued), unless it is done or held.

    A new key gets a new run; a failed run, one whose lease lapsed, and one of this owner
    are taken over (same id, the next fence); a done run or one another owner holds under a
    live lease is left alone.

    Raises
    ------
    StorageError
        If an observation id does not exist or the database fails.
    """
    config_json = dumps_json(config, f"config of run {key!r}")
    for _ in range(8):
        now = utcnow()
        lease = now + timedelta(seconds=lease_s)
        fresh = {
            "science_id": science_id,
            "reference_id": reference_id,
            "status": "queued",
            "owner": owner,
            "failed_stage": None,
            "error": None,
            "config_json": config_json,
            "code_version": code_version,
            "started_at": now,
            "finished_at": None,
            "lease_expires_at": lease,
        }
        try:
            with catalog_errors(f"claim run {key!r}", key=key), catalog.session() as session:
                with session.begin():
                    run = session.scalar(select(ProcessingRun).where(ProcessingRun.key == key))
                    if run is None:
                        new = ProcessingRun(key=key, n_candidates=0, fence=1, **fresh)
                        session.add(new)
                        session.flush()
                        record = run_record(new)
                        logger.info("run %d claimed by %s (new key)", new.id, owner)
                        return ClaimResult(Claim(new.id, 1), "claimed", record)
                    record = run_record(run)
                    if run.status == "done":
                        return ClaimResult(None, "done", record)
                    if _held(run, owner, now):
                        return ClaimResult(None, "held", record)
                    seen, run_id = run.fence, run.id
                with session.begin():
                    result = session.execute(
                        update(ProcessingRun)
                        .where(
                            ProcessingRun.id == run_id,
                            ProcessingRun.fence == seen,
                            ProcessingRun.status != "done",
                        )
                        .values(fence=seen + 1, **fresh)
                    )
                    if int(getattr(result, "rowcount", 0)) == 1:
                        claimed = session.get(ProcessingRun, run_id, populate_existing=True)
                        assert claimed is not None
                        logger.info("run %d claimed by %s (fence %d)", run_id, owner, seen + 1)
                        return ClaimResult(Claim(run_id, seen + 1), "claimed", run_record(claimed))
        except StorageError as e:
            if not isinstance(e.__cause__, IntegrityError):
                raise
        # another process inserted or claimed the key between our read and write: look again
    raise StorageError(f"could not claim run {key!r}: it changed hands 8 times", key=key)


def renew_claim(catalog: Catalog, claim: Claim, lease_s: float = DEFAULT_LEASE_S) -> bool:
    """Extend a claim's lease; False when it was lost (taken over, or the run finished)."""
    with catalog_errors(f"renew the claim on run {claim.run_id}", run_id=claim.run_id):
        with catalog.session() as session, session.begin():
            result = session.execute(
                update(ProcessingRun)
                .where(
                    ProcessingRun.id == claim.run_id,
                    ProcessingRun.fence == claim.fence,
                    ProcessingRun.status.in_(("queued", "running")),
                )
                .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
            )
            return int(getattr(result, "rowcount", 0)) == 1
