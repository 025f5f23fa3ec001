"""Candidates: filtered, sorted, paginated lists; one candidate; cutouts; cone searches."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from astrid.api.deps import ViewerDep
from astrid.api.downloads import cached, etag_for, not_modified, stored_file
from astrid.api.presenters import candidate_detail, candidate_public
from astrid.api.schemas import CandidateDetail, CandidatePagePublic, ConeMatchPublic
from astrid.catalog import candidates as catalog_candidates
from astrid.catalog.candidates import ConeMatch
from astrid.catalog.curation import consensus_of
from astrid.catalog.query_params import InvalidQueryError
from astrid.service import candidates
from astrid.service.cutout_images import MAX_SCALE, RENDERING
from astrid.service.deps import ServiceDep
from astrid.service.params import CandidateFiltersDep, Id, SortDep, query_error
from astrid.service.state import Service

router = APIRouter(tags=["candidates"])

CutoutKind = Literal["science", "reference", "difference"]
_Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/candidates", response_model=CandidatePagePublic)
def list_candidates(
    service: ServiceDep,
    _: ViewerDep,
    filters: CandidateFiltersDep,
    sort: SortDep = "id",
    order: Literal["asc", "desc"] = "asc",
    limit: _Limit = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> CandidatePagePublic:
    """Candidates matching the filters, one page at a time (pass ``next_cursor`` back)."""
    listing = candidates.candidate_listing(
        service, filters, sort=sort, descending=order == "desc", limit=limit, cursor=cursor
    )
    return CandidatePagePublic(
        items=[candidate_public(r, listing.agreed[r.id]) for r in listing.page.items],
        next_cursor=listing.page.next_cursor,
    )


def _matches(service: Service, found: list[ConeMatch]) -> list[ConeMatchPublic]:
    agreed = consensus_of(service.catalog, [m.candidate.id for m in found])
    return [
        ConeMatchPublic(
            separation_arcsec=m.separation_arcsec,
            candidate=candidate_public(m.candidate, agreed[m.candidate.id]),
        )
        for m in found
    ]


@router.get("/candidates/cone", response_model=list[ConeMatchPublic])
def cone_search(
    service: ServiceDep,
    _: ViewerDep,
    ra: Annotated[float, Query(ge=0, lt=360, allow_inf_nan=False, description="degrees")],
    dec: Annotated[float, Query(ge=-90, le=90, allow_inf_nan=False, description="degrees")],
    radius: Annotated[float, Query(gt=0, le=36000, allow_inf_nan=False, description="arcseconds")],
    limit: _Limit = 100,
) -> list[ConeMatchPublic]:
    """Candidates within ``radius`` arcsec of (``ra``, ``dec``), nearest first (HEALPix)."""
    try:
        found = catalog_candidates.cone_search(
            service.catalog, ra=ra, dec=dec, radius_deg=radius / 3600.0, limit=limit
        )
    except InvalidQueryError as e:
        raise query_error(e) from e
    return _matches(service, found)


@router.get("/candidates/{candidate_id}", response_model=CandidateDetail)
def get_candidate(candidate_id: Id, service: ServiceDep, _: ViewerDep) -> CandidateDetail:
    """One candidate: measurements, features, scores, cutout links, labels, consensus."""
    return candidate_detail(candidates.labelled_candidate(service, candidate_id))


@router.get("/candidates/{candidate_id}/neighbours", response_model=list[ConeMatchPublic])
def get_neighbours(
    candidate_id: Id,
    service: ServiceDep,
    _: ViewerDep,
    radius: Annotated[
        float | None, Query(gt=0, le=3600, allow_inf_nan=False, description="arcsec")
    ] = None,
) -> list[ConeMatchPublic]:
    """Other candidates at the same position (default radius: ASTRID_NEIGHBOUR_RADIUS_ARCSEC)."""
    record = candidates.find_candidate(service, candidate_id)
    return _matches(service, candidates.nearby_candidates(service, record, radius_arcsec=radius))


def _cutout_key(service: Service, candidate_id: int, kind: str) -> str:
    key = candidates.find_candidate(service, candidate_id).cutout_key(kind)
    if key is None:
        raise HTTPException(404, f"candidate {candidate_id} has no {kind} cutout")
    return key


@router.get(
    "/candidates/{candidate_id}/cutouts/{kind}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 304: {"description": "not modified"}},
)
async def get_cutout_png(
    candidate_id: Id,
    kind: CutoutKind,
    request: Request,
    service: ServiceDep,
    _: ViewerDep,
    scale: Annotated[int, Query(ge=1, le=MAX_SCALE, description="pixel upscaling")] = 1,
) -> Response:
    """A cutout as PNG: noise-scaled asinh (science, reference), symmetric about 0 (difference)."""
    key = await run_in_threadpool(_cutout_key, service, candidate_id, kind)
    etag = etag_for(key, kind, scale, RENDERING)
    if not_modified(request, etag):
        return cached(Response(status_code=304), etag)
    image = await run_in_threadpool(service.cutouts.png, key, kind=kind, scale=scale)
    return cached(Response(image, media_type="image/png"), etag)


@router.get(
    "/candidates/{candidate_id}/cutouts/{kind}.fits",
    response_class=Response,
    responses={200: {"content": {"application/fits": {}}}},
)
def get_cutout_fits(
    candidate_id: Id, kind: CutoutKind, service: ServiceDep, _: ViewerDep
) -> Response:
    """A cutout as stored: a 63×63 float32 FITS image."""
    key = _cutout_key(service, candidate_id, kind)
    return stored_file(service.store, key, filename=f"candidate{candidate_id}.{kind}.fits")
