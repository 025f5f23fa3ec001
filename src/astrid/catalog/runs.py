"""Reads of processing runs: newest first, with their statistics and stage timings."""

from __future__ import annotations

from sqlalchemy import select

from astrid.catalog.models import ProcessingRun
from astrid.catalog.query_params import newest_first
from astrid.catalog.repository import Catalog, RunRecord, catalog_errors, run_record

__all__ = ["RunRecord", "run", "runs"]


def runs(
    catalog: Catalog,
    *,
    status: str | None = None,
    science_id: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[RunRecord]:
    """Processing runs, newest first; ``before_id`` pages back in time."""
    query = newest_first(select(ProcessingRun), ProcessingRun.id, before_id=before_id, limit=limit)
    if status is not None:
        query = query.where(ProcessingRun.status == status)
    if science_id is not None:
        query = query.where(ProcessingRun.science_id == science_id)
    with catalog_errors("read runs"), catalog.session() as session:
        return [run_record(r) for r in session.scalars(query)]


def run(catalog: Catalog, run_id: int) -> RunRecord | None:
    """One processing run, or None."""
    with catalog_errors(f"read run {run_id}"), catalog.session() as session:
        found = session.get(ProcessingRun, run_id)
        return None if found is None else run_record(found)
