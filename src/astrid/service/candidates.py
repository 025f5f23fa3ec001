"""What both front ends do with candidates: list them, show one with its labels, find
its neighbours, place the marks over its cutouts.

The API renders the results as JSON (`astrid.api.routes.candidates`), the web page as HTML
(`astrid.web.pages`); the reading, the consensus and the errors are the same: an unknown
candidate is a 404, an invalid filter, sort or cursor a 422 naming the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException

from astrid.catalog import candidates as catalog_candidates
from astrid.catalog.candidates import CandidatePage, CandidateRecord, ConeMatch
from astrid.catalog.curation import LabelRecord, consensus_of, labels_of
from astrid.catalog.observations import observation
from astrid.catalog.query_params import CandidateFilters, InvalidQueryError
from astrid.curation.consensus import Consensus, consensus
from astrid.difference.cutouts import CUTOUT_SIZE, wcs_from_header
from astrid.service.cutout_overlay import CutoutOverlay, cutout_overlay
from astrid.service.params import query_error
from astrid.service.state import Service

__all__ = [
    "CandidateListing",
    "LabelledCandidate",
    "candidate_listing",
    "cutout_marks",
    "find_candidate",
    "labelled_candidate",
    "nearby_candidates",
]


@dataclass(frozen=True)
class CandidateListing:
    """One page of candidates and the curators' consensus on each (by candidate id)."""

    page: CandidatePage
    agreed: dict[int, Consensus]


@dataclass(frozen=True)
class LabelledCandidate:
    """A candidate, its labels (oldest first) and their consensus."""

    record: CandidateRecord
    labels: list[LabelRecord]
    consensus: Consensus


def find_candidate(service: Service, candidate_id: int) -> CandidateRecord:
    """The candidate, or 404."""
    record = catalog_candidates.candidate(service.catalog, candidate_id)
    if record is None:
        raise HTTPException(404, f"no candidate with id {candidate_id}")
    return record


def candidate_listing(
    service: Service,
    filters: CandidateFilters,
    *,
    sort: str,
    descending: bool,
    limit: int,
    cursor: str | None,
) -> CandidateListing:
    """One page of candidates matching ``filters`` (see `astrid.catalog.candidates`), or 422."""
    try:
        page = catalog_candidates.list_candidates(
            service.catalog,
            filters=filters,
            sort=sort,
            descending=descending,
            limit=limit,
            cursor=cursor,
        )
    except InvalidQueryError as e:
        raise query_error(e) from e
    return CandidateListing(
        page=page, agreed=consensus_of(service.catalog, [r.id for r in page.items])
    )


def labelled_candidate(service: Service, candidate_id: int) -> LabelledCandidate:
    """The candidate with its labels and their consensus, or 404."""
    record = find_candidate(service, candidate_id)
    labels = labels_of(service.catalog, [candidate_id]).get(candidate_id, [])
    return LabelledCandidate(
        record=record, labels=labels, consensus=consensus(label.vote for label in labels)
    )


def nearby_candidates(
    service: Service, record: CandidateRecord, *, radius_arcsec: float | None = None
) -> list[ConeMatch]:
    """Other candidates at the position of ``record`` (other runs, same place), nearest first.

    The radius defaults to ``ASTRID_NEIGHBOUR_RADIUS_ARCSEC``.
    """
    radius = radius_arcsec or service.settings.neighbour_radius_arcsec
    return catalog_candidates.neighbours(service.catalog, record, radius_arcsec=radius)


def cutout_marks(service: Service, record: CandidateRecord) -> CutoutOverlay:
    """Crosshair, north/east arrows and scale bar for the cutouts of ``record``.

    Oriented by the WCS of the candidate's science observation; crosshair only when that
    observation has no WCS.
    """
    found = observation(service.catalog, record.observation_id)
    wcs = wcs_from_header(found.wcs_header if found is not None else None)
    return cutout_overlay(wcs, record.x, record.y, CUTOUT_SIZE)
