"""Curators' labels of a candidate, with the consensus, and the review queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from astrid.api.deps import CuratorDep, ServiceDep, ViewerDep
from astrid.api.params import MAX_ID, Id
from astrid.api.presenters import consensus_public, label_public, progress_public
from astrid.api.routes.candidates import detail, find_candidate
from astrid.api.schemas import LabelCreate, LabelPublic, LabelsPublic, ReviewItem
from astrid.catalog.curation import (
    add_label,
    claim_next,
    labels_of,
    release_claim,
    review_progress,
)
from astrid.curation.consensus import consensus

router = APIRouter(tags=["labels"])


@router.get("/candidates/{candidate_id}/labels", response_model=LabelsPublic)
def get_labels(candidate_id: Id, service: ServiceDep, _: ViewerDep) -> LabelsPublic:
    """Every label of a candidate (oldest first) and the curators' consensus."""
    find_candidate(service, candidate_id)
    labels = labels_of(service.catalog, [candidate_id]).get(candidate_id, [])
    return LabelsPublic(
        candidate_id=candidate_id,
        consensus=consensus_public(consensus(label.vote for label in labels)),
        labels=[label_public(label) for label in labels],
    )


@router.post("/candidates/{candidate_id}/labels", status_code=201, response_model=LabelPublic)
def post_label(
    candidate_id: Id, body: LabelCreate, service: ServiceDep, caller: CuratorDep
) -> LabelPublic:
    """Label a candidate as the calling curator (their latest label is the one counted)."""
    find_candidate(service, candidate_id)
    record = add_label(
        service.catalog,
        candidate_id=candidate_id,
        curator=caller.name,
        label=body.label,
        comment=body.comment,
        actor=caller.actor,
    )
    return label_public(record)


@router.post(
    "/review/next",
    response_model=ReviewItem,
    responses={204: {"description": "nothing is waiting for this curator"}},
)
def review_next(
    service: ServiceDep,
    caller: CuratorDep,
    skip: Annotated[list[Annotated[int, Query(ge=1, le=MAX_ID)]], Query(max_length=500)] = [],  # noqa: B006
) -> ReviewItem | Response:
    """Claim the candidate that most needs this curator (uncertain rb, high ood).

    No two curators are handed the same candidate while a claim holds
    (ASTRID_REVIEW_CLAIM_MINUTES). Labelling the candidate releases the claim.
    """
    settings = service.settings
    candidate_id = claim_next(
        service.catalog,
        curator=caller.name,
        labels_wanted=settings.review_labels_wanted,
        claim_timeout=service.claim_timeout,
        skip=skip,
    )
    if candidate_id is None:
        return Response(status_code=204)
    progress = review_progress(
        service.catalog,
        curator=caller.name,
        labels_wanted=settings.review_labels_wanted,
        claim_timeout=service.claim_timeout,
    )
    return ReviewItem(
        candidate=detail(service, find_candidate(service, candidate_id)),
        progress=progress_public(progress),
    )


@router.delete(
    "/review/claims/{candidate_id}",
    status_code=204,
    responses={404: {"description": "this curator holds no claim on it"}},
)
def release(candidate_id: Id, service: ServiceDep, caller: CuratorDep) -> Response:
    """Give a claimed candidate back to the queue (skip it)."""
    if not release_claim(service.catalog, candidate_id=candidate_id, curator=caller.name):
        raise HTTPException(404, f"{caller.name!r} holds no claim on candidate {candidate_id}")
    return Response(status_code=204)
