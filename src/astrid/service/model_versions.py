"""What the front ends show of one detection model version: its card and what it scored."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException

from astrid.catalog.candidates import CandidateRecord, count_candidates, list_candidates
from astrid.catalog.model_registry import ModelRecord, model_by_id
from astrid.catalog.query_params import CandidateFilters
from astrid.service.state import Service

__all__ = ["ModelDetail", "model_detail"]


@dataclass(frozen=True)
class ModelDetail:
    """A model version, how many candidates it scored and the highest-scored of them."""

    model: ModelRecord
    n_scored: int
    top: list[CandidateRecord]


def model_detail(service: Service, model_id: int, *, n_top: int = 10) -> ModelDetail:
    """The model version ``model_id`` with the ``n_top`` candidates it scored highest, or 404."""
    record = model_by_id(service.catalog, model_id)
    if record is None:
        raise HTTPException(404, f"no model version with id {model_id}")
    scored = CandidateFilters(model_version_id=model_id)
    top = list_candidates(
        service.catalog, filters=scored, sort="rb", descending=True, limit=n_top
    ).items
    return ModelDetail(
        model=record, n_scored=count_candidates(service.catalog, filters=scored), top=top
    )
