"""`RunRecord`: a processing run as the catalog hands it out, and how a row becomes one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from astrid.catalog.json_columns import loads_json
from astrid.catalog.models import ProcessingRun
from astrid.catalog.records import record_from_row

__all__ = ["RunRecord", "run_record"]


@dataclass(frozen=True)
class RunRecord:
    """A processing run with its statistics and per-stage timings (seconds).

    Attributes
    ----------
    id : int
        Row id.
    key : str
        Idempotency key.
    status : {"queued", "running", "done", "failed"}
    science_id, reference_id : int, int or None
        Observation ids of the inputs.
    n_candidates : int
        Candidates stored by the last successful `Catalog.finish_run`.
    failed_stage, error : str or None
        Where and why the run failed, when it did.
    code_version : str
    config, stats, timings, products : dict
        The run's configuration, statistics, stage seconds and product paths.
    started_at, finished_at : datetime, datetime or None
        Timezone-aware UTC.
    owner : str or None
        ``host:pid:process start`` of the process that queued or runs it (None for runs
        made before owners were recorded).
    """

    id: int
    key: str
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
    owner: str | None

    @property
    def seconds(self) -> float | None:
        """Wall-clock seconds from start to finish, None while running."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def run_record(run: ProcessingRun) -> RunRecord:
    """The `RunRecord` of a run row."""
    return record_from_row(
        RunRecord,
        run,
        config=loads_json(run.config_json),
        stats=loads_json(run.stats_json),
        timings=loads_json(run.timings_json),
        products=loads_json(run.products_json),
    )
