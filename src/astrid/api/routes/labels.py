"""Curators' labels of a candidate, with the consensus, and the review queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from astrid.api.deps import CuratorDep, ViewerDep
from astrid.api.presenters import (
    candidate_detail,
    consensus_public,
    label_public,
    progress_public,
)
from astrid.api.schemas import LabelCreate, LabelPublic, LabelsPublic, ReviewItem
from astrid.catalog.curation import release_claim
from astrid.service.candidates import labelled_candidate
from astrid.service.deps import ServiceDep
from astrid.service.params import MAX_ID, Id
from astrid.service.review import label_candidate, next_for_review

router = APIRouter(tags=["labels"])


@router.get("/candidates/{candidate_id}/labels", response_model=LabelsPublic)
def get_labels(candidate_id: Id, service: ServiceDep, _: ViewerDep) -> LabelsPublic:
    """Every label of a candidate (oldest first) and the curators' consensus."""
    labelled = labelled_candidate(service, candidate_id)
    return LabelsPublic(
        candidate_id=candidate_id,
        consensus=consensus_public(labelled.consensus),
        labels=[label_public(label) for label in labelled.labels],
    )


@router.post("/candidates/{candidate_id}/labels", status_code=201, response_model=LabelPublic)
def post_label(
    candidate_id: Id, body: LabelCreate, service: ServiceDep, caller: CuratorDep
) -> LabelPublic:
    """Label a candidate as the calling curator (their latest label is the one counted)."""
    record = label_candidate(service, caller, candidate_id, body.label, body.comment)
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
    turn = next_for_review(service, caller, skip)
    if turn.candidate is None:
        return Response(status_code=204)
    return ReviewItem(
        candidate=candidate_detail(turn.candidate), progress=progress_public(turn.progress)
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
