"""What the front ends show of one processing run: the run and the files it processed."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException

from astrid.catalog.model_registry import ModelRecord, models_of_run
from astrid.catalog.observations import ObservationRecord, observation
from astrid.catalog.runs import RunRecord, run
from astrid.service.state import Service

__all__ = ["RunWithInputs", "run_with_inputs"]


@dataclass(frozen=True)
class RunWithInputs:
    """A run with its science and reference observations and the models that scored it."""

    run: RunRecord
    science: ObservationRecord | None
    reference: ObservationRecord | None
    models: list[ModelRecord]


def run_with_inputs(service: Service, run_id: int) -> RunWithInputs:
    """The run ``run_id`` and what it refers to, or 404."""
    record = run(service.catalog, run_id)
    if record is None:
        raise HTTPException(404, f"no run with id {run_id}")
    reference = (
        observation(service.catalog, record.reference_id)
        if record.reference_id is not None
        else None
    )
    return RunWithInputs(
        run=record,
        science=observation(service.catalog, record.science_id),
        reference=reference,
        models=models_of_run(service.catalog, run_id),
    )
