"""Detection model versions: metrics, and which one is active."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from astrid.api.deps import ViewerDep
from astrid.api.presenters import model_public
from astrid.api.schemas import ModelPublic
from astrid.catalog import model_registry
from astrid.service.deps import ServiceDep
from astrid.service.params import Id

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=list[ModelPublic])
def list_models(
    service: ServiceDep,
    _: ViewerDep,
    name: Annotated[str | None, Query(max_length=64, description="model family")] = None,
) -> list[ModelPublic]:
    """Model versions by family, newest first; ``active`` marks the one in use."""
    found = model_registry.list_models(service.catalog, name, newest_first=True)
    return [model_public(m) for m in found]


@router.get("/{model_id}", response_model=ModelPublic)
def get_model(model_id: Id, service: ServiceDep, _: ViewerDep) -> ModelPublic:
    """One model version."""
    record = model_registry.model_by_id(service.catalog, model_id)
    if record is None:
        raise HTTPException(404, f"no model version with id {model_id}")
    return model_public(record)
