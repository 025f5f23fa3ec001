"""Exports of candidates (with their label consensus), objects and labels: CSV, FITS, VOTable."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from astrid.api.deps import ViewerDep
from astrid.api.routes.objects import ObjectFiltersDep
from astrid.catalog.candidates import iter_candidates
from astrid.catalog.curation import all_labels, consensus_of
from astrid.catalog.exports import (
    MEDIA_TYPES,
    SUFFIXES,
    candidates_table,
    labels_table,
    objects_table,
    table_bytes,
)
from astrid.catalog.object_records import ObjectFilters, iter_objects
from astrid.catalog.query_params import CandidateFilters, InvalidQueryError
from astrid.service.deps import ServiceDep
from astrid.service.params import CandidateFiltersDep, query_error
from astrid.service.state import Service

router = APIRouter(prefix="/exports", tags=["exports"])

Format = Literal["csv", "fits", "votable"]
_CONTENT: dict[str, Any] = {"content": {media: {} for media in MEDIA_TYPES.values()}}


def _download(data: bytes, fmt: str, stem: str) -> Response:
    return Response(
        data,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{stem}{SUFFIXES[fmt]}"'},
    )


def _candidates(service: Service, filters: CandidateFilters, fmt: str) -> bytes:
    records = iter_candidates(
        service.catalog, filters=filters, max_rows=service.settings.export_max_rows
    )
    agreed = consensus_of(service.catalog, [r.id for r in records])
    return table_bytes(candidates_table(records, agreed), fmt)


@router.get("/candidates.{fmt}", response_class=Response, responses={200: _CONTENT})
async def export_candidates(
    fmt: Format, service: ServiceDep, _: ViewerDep, filters: CandidateFiltersDep
) -> Response:
    """Candidates matching the filters, with consensus columns (422 past the row limit)."""
    try:
        data = await run_in_threadpool(_candidates, service, filters, fmt)
    except InvalidQueryError as e:
        raise query_error(e) from e
    return _download(data, fmt, "astrid-candidates")


def _labels(service: Service, fmt: str) -> bytes:
    labels = all_labels(service.catalog, max_rows=service.settings.export_max_rows)
    return table_bytes(labels_table(labels), fmt)


@router.get("/labels.{fmt}", response_class=Response, responses={200: _CONTENT})
async def export_labels(fmt: Format, service: ServiceDep, _: ViewerDep) -> Response:
    """Every label (the whole history, every curator)."""
    try:
        data = await run_in_threadpool(_labels, service, fmt)
    except InvalidQueryError as e:
        raise query_error(e) from e
    return _download(data, fmt, "astrid-labels")


def _objects(service: Service, filters: ObjectFilters, fmt: str) -> bytes:
    records = iter_objects(service.catalog, filters, max_rows=service.settings.export_max_rows)
    return table_bytes(objects_table(records), fmt)


@router.get("/objects.{fmt}", response_class=Response, responses={200: _CONTENT})
async def export_objects(
    fmt: Format, service: ServiceDep, _: ViewerDep, filters: ObjectFiltersDep
) -> Response:
    """Objects passing the filters of ``GET /objects`` (422 past the row limit)."""
    try:
        data = await run_in_threadpool(_objects, service, filters, fmt)
    except InvalidQueryError as e:
        raise query_error(e) from e
    return _download(data, fmt, "astrid-objects")
