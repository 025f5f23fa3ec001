"""Reads of processing runs: newest first, with their statistics and stage timings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from astrid.catalog.json_columns import loads_json
from astrid.catalog.models import ProcessingRun
from astrid.catalog.query_params import check_limit
from astrid.catalog.repository import Catalog, catalog_errors

__all__ = ["RunRecord", "run", "runs"]


@dataclass(frozen=True)
class RunRecord:
    """A processing run with its statistics and per-stage timings (seconds)."""

    id: int
    status: str
    science_id: int
    reference_id: int | None
    n_candidates: int
    failed_stage: str | None
    error: str | None
    code_version: str
    config: dict[str, Any]
    stats: dict[str, Any]
    timings: dict[str, float]
    products: dict[str, str]
    started_at: datetime
    finished_at: datetime | None

    @property
    def seconds(self) -> float | None:
        """Wall-clock seconds from start to finish, None while running."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def _run_record(run: ProcessingRun) -> RunRecord:
    return RunRecord(
        id=run.id,
        status=run.status,
        science_id=run.science_id,
        reference_id=run.reference_id,
        n_candidates=run.n_candidates,
        failed_stage=run.failed_stage,
        error=run.error,
        code_version=run.code_version,
        config=loads_json(run.config_json),
        stats=loads_json(run.stats_json),
        timings=loads_json(run.timings_json),
        products=loads_json(run.products_json),
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def runs(
    catalog: Catalog,
    *,
    status: str | None = None,
    science_id: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[RunRecord]:
    """Processing runs, newest first; ``before_id`` pages back in time."""
    check_limit(limit)
    query = select(ProcessingRun).order_by(ProcessingRun.id.desc()).limit(limit)
    if status is not None:
        query = query.where(ProcessingRun.status == status)
    if science_id is not None:
        query = query.where(ProcessingRun.science_id == science_id)
    if before_id is not None:
        query = query.where(ProcessingRun.id < before_id)
    with catalog_errors("read runs"), catalog.session() as session:
        return [_run_record(r) for r in session.scalars(query)]


def run(catalog: Catalog, run_id: int) -> RunRecord | None:
    """One processing run, or None."""
    with catalog_errors(f"read run {run_id}"), catalog.session() as session:
        found = session.get(ProcessingRun, run_id)
        return None if found is None else _run_record(found)
