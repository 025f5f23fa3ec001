"""Processing runs (status, per-stage timings, products) and the upload job queue."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response

from astrid.api.deps import ViewerDep
from astrid.api.downloads import stored_file
from astrid.api.presenters import job_public, run_detail, run_public
from astrid.api.schemas import JobPublic, RunDetail, RunPublic
from astrid.catalog.jobs import job, jobs
from astrid.catalog.runs import run, runs
from astrid.service.deps import ServiceDep
from astrid.service.params import Id, OptionalId

router = APIRouter(tags=["runs"])


@router.get("/runs", response_model=list[RunPublic])
def list_runs(
    service: ServiceDep,
    _: ViewerDep,
    status: Literal["queued", "running", "done", "failed"] | None = None,
    science_id: OptionalId = None,
    before_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RunPublic]:
    """Runs, newest first; page back with ``before_id`` = the last id seen."""
    records = runs(
        service.catalog, status=status, science_id=science_id, before_id=before_id, limit=limit
    )
    return [run_public(r) for r in records]


@router.get("/runs/{run_id}", response_model=RunDetail)
def get_run(run_id: Id, service: ServiceDep, _: ViewerDep) -> RunDetail:
    """One run with its statistics, settings, timings and product links."""
    record = run(service.catalog, run_id)
    if record is None:
        raise HTTPException(404, f"no run with id {run_id}")
    return run_detail(record)


@router.get(
    "/runs/{run_id}/products/{name}",
    response_class=Response,
    responses={200: {"content": {"application/fits": {}}}, 404: {"description": "no such"}},
)
def get_run_product(
    run_id: Id,
    name: Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,64}$")],
    service: ServiceDep,
    _: ViewerDep,
) -> Response:
    """A product image of a run (``difference``, ``score_corr``...) as FITS."""
    record = run(service.catalog, run_id)
    if record is None or name not in record.products:
        raise HTTPException(404, f"run {run_id} has no product {name!r}")
    return stored_file(service.store, record.products[name], filename=f"run{run_id}.{name}.fits")


@router.get("/jobs", response_model=list[JobPublic])
def list_jobs(
    service: ServiceDep,
    _: ViewerDep,
    status: Literal["queued", "running", "done", "failed"] | None = None,
    before_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[JobPublic]:
    """Jobs, newest first."""
    records = jobs(service.catalog, status=status, before_id=before_id, limit=limit)
    return [job_public(r) for r in records]


@router.get("/jobs/{job_id}", response_model=JobPublic)
def get_job(job_id: Id, service: ServiceDep, _: ViewerDep) -> JobPublic:
    """One job: poll it after an upload until it is done or failed."""
    record = job(service.catalog, job_id)
    if record is None:
        raise HTTPException(404, f"no job with id {job_id}")
    return job_public(record)
