"""Observations: list, get, download, and upload a FITS file to be processed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from astrid.api import uploads
from astrid.api.deps import AdminDep, ViewerDep
from astrid.api.downloads import stored_file
from astrid.api.presenters import job_public, observation_public
from astrid.api.schemas import ObservationDetail, ObservationPublic, UploadResult
from astrid.api.worker import PROCESS_JOB
from astrid.catalog.access import record as audit
from astrid.catalog.jobs import enqueue_job, open_job_for
from astrid.catalog.observations import observation, observation_by_hash, observations
from astrid.observations.hashing import file_sha256
from astrid.service.deps import ServiceDep
from astrid.service.params import Id, OptionalId
from astrid.service.state import Service

router = APIRouter(prefix="/observations", tags=["observations"])

_FILENAME = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$"
_FITS_MEDIA = "application/fits"


def _not_found(observation_id: int) -> HTTPException:
    return HTTPException(404, f"no observation with id {observation_id}")


@router.get("", response_model=list[ObservationPublic])
def list_observations(
    service: ServiceDep,
    _: ViewerDep,
    role: Literal["science", "reference"] | None = None,
    status: Literal["registered", "failed", "processed"] | None = None,
    filter: Annotated[str | None, Query(max_length=32)] = None,
    after_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ObservationPublic]:
    """Observations by id; page with ``after_id`` = the last id seen."""
    records = observations(
        service.catalog, role=role, status=status, filter=filter, after_id=after_id, limit=limit
    )
    return [observation_public(r) for r in records]


@router.get("/{observation_id}", response_model=ObservationDetail)
def get_observation(observation_id: Id, service: ServiceDep, _: ViewerDep) -> ObservationPublic:
    """One observation, with its WCS."""
    record = observation(service.catalog, observation_id)
    if record is None:
        raise _not_found(observation_id)
    return observation_public(record, detail=True)


@router.get(
    "/{observation_id}/file",
    response_class=Response,
    responses={200: {"content": {_FITS_MEDIA: {}}}, 404: {"description": "no such file"}},
)
def get_observation_file(observation_id: Id, service: ServiceDep, _: ViewerDep) -> Response:
    """The stored FITS file."""
    record = observation(service.catalog, observation_id)
    if record is None or record.store_key is None:
        raise _not_found(observation_id)
    return stored_file(service.store, record.store_key, filename=f"{record.name}.fits")


@router.post(
    "",
    status_code=201,
    response_model=UploadResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the FITS file itself (not a form), streamed",
            "content": {_FITS_MEDIA: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={
        200: {"model": UploadResult, "description": "this content was already registered"},
        409: {"description": "this content is registered with the other role"},
        413: {"description": "larger than ASTRID_UPLOAD_MAX_BYTES"},
        422: {"description": "not a usable image, or no reference to run it against"},
    },
)
async def upload_observation(
    request: Request,
    response: Response,
    service: ServiceDep,
    caller: AdminDep,
    filename: Annotated[str, Query(pattern=_FILENAME, description="e.g. field12_r.fits")],
    role: Literal["science", "reference"] = "science",
    reference_id: OptionalId = None,
) -> UploadResult:
    """Upload a FITS image; a science image is queued for processing.

    The body is streamed to disk and refused (413) as soon as it passes the size limit.
    The file must read as an image with a WCS, and a science image needs a reference in
    its filter (``reference_id``, or the latest reference of the same filter); otherwise
    the answer is 422 with the reason and nothing is stored. Poll the returned job.
    """
    limit = service.settings.upload_max_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"{filename}: {declared} bytes is over the limit of {limit}")
    try:
        path = await uploads.receive(
            request.stream(), incoming=service.incoming_dir, filename=filename, max_bytes=limit
        )
    except uploads.UploadTooLargeError as e:
        raise HTTPException(413, str(e)) from e
    except uploads.UploadRejectedError as e:
        raise _rejected(e) from e
    try:
        result = await run_in_threadpool(
            _accept, service, caller.actor, path, filename, role, reference_id
        )
    finally:
        uploads.discard(path)
    if not result.created:
        response.status_code = 200
    return result


def _rejected(error: uploads.UploadRejectedError) -> HTTPException:
    field = str(error.details.get("field", "body"))
    location = ["body"] if field == "body" else ["query", field]
    return HTTPException(422, [{"loc": location, "msg": str(error), "type": "value_error"}])


def _accept(
    service: Service,
    actor: str,
    path: Path,
    filename: str,
    role: str,
    reference_id: int | None,
) -> UploadResult:
    """Validate, store, register and queue a received file (in a worker thread)."""
    catalog = service.catalog
    try:
        valid = uploads.validate(
            catalog,
            path,
            filename=filename,
            role=role,
            reference_id=reference_id,
            max_pixels=service.settings.max_image_pixels,
        )
    except uploads.UploadRejectedError as e:
        raise _rejected(e) from e
    known = observation_by_hash(catalog, file_sha256(path))
    if known is not None and known.role != role:
        raise HTTPException(
            409, f"{filename}: this file is already observation {known.id}, a {known.role}"
        )
    observation_id, created = uploads.register(
        catalog, service.store, valid, filename=filename, role=role
    )
    record = observation(catalog, observation_id)
    assert record is not None
    job = None
    if role == "science":
        assert valid.reference is not None
        job = open_job_for(catalog, kind=PROCESS_JOB, observation_id=observation_id)
        if job is None:
            job = enqueue_job(
                catalog,
                kind=PROCESS_JOB,
                payload={"observation_id": observation_id, "reference_id": valid.reference.id},
                observation_id=observation_id,
                actor=actor,
            )
            service.worker.wake()
    if created:
        audit(
            catalog,
            actor=actor,
            action="observation.upload",
            target=f"observation:{observation_id}",
            detail={"filename": filename, "role": role},
        )
    return UploadResult(
        observation=observation_public(record),
        created=created,
        job=None if job is None else job_public(job),
    )
