"""What both front ends do for curators: label a candidate, class an object, hand out the
next candidate to review.

A label is stored under the caller's name, audited under the caller's identity; an unknown
candidate or object is a 404, an unknown label or class a 422. Review mode claims the
candidate that most needs this curator (`astrid.catalog.curation.claim_next`) and reports
the progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from astrid.catalog.curation import (
    LabelRecord,
    ReviewProgress,
    add_label,
    claim_next,
    review_progress,
)
from astrid.catalog.object_records import ObjectLabelRecord, ObjectRecord, add_object_label
from astrid.catalog.query_params import InvalidQueryError
from astrid.service.auth import Principal
from astrid.service.candidates import LabelledCandidate, find_candidate, labelled_candidate
from astrid.service.params import query_error
from astrid.service.state import Service

__all__ = ["ReviewTurn", "label_candidate", "label_object", "next_for_review"]


@dataclass(frozen=True)
class ReviewTurn:
    """The candidate claimed for a curator (None when nothing waits) and the progress."""

    candidate: LabelledCandidate | None
    progress: ReviewProgress


def label_candidate(
    service: Service, caller: Principal, candidate_id: int, label: str, comment: str | None
) -> LabelRecord:
    """Label a candidate as ``caller`` (their latest label is the one counted)."""
    find_candidate(service, candidate_id)
    try:
        return add_label(
            service.catalog,
            candidate_id=candidate_id,
            curator=caller.name,
            label=label,
            comment=comment,
            actor=caller.actor,
        )
    except InvalidQueryError as e:
        raise query_error(e) from e


def label_object(
    service: Service, caller: Principal, found: ObjectRecord, label: str, comment: str | None
) -> ObjectLabelRecord:
    """Class the object ``found`` (`astrid.service.objects.find_object`) as ``caller``: one
    of `astrid.curation.labels.OBJECT_CLASSES`, else 422."""
    try:
        return add_object_label(
            service.catalog,
            object_id=found.id,
            curator=caller.name,
            label=label,
            comment=comment,
            actor=caller.actor,
        )
    except InvalidQueryError as e:
        raise query_error(e) from e


def next_for_review(service: Service, caller: Principal, skip: Sequence[int]) -> ReviewTurn:
    """Claim the candidate that most needs ``caller``, skipping ``skip``.

    No two curators are handed the same candidate while a claim holds
    (``ASTRID_REVIEW_CLAIM_MINUTES``); labelling the candidate releases the claim.
    """
    wanted = service.settings.review_labels_wanted
    candidate_id = claim_next(
        service.catalog,
        curator=caller.name,
        labels_wanted=wanted,
        claim_timeout=service.claim_timeout,
        skip=skip,
    )
    progress = review_progress(
        service.catalog,
        curator=caller.name,
        labels_wanted=wanted,
        claim_timeout=service.claim_timeout,
    )
    claimed = None if candidate_id is None else labelled_candidate(service, candidate_id)
    return ReviewTurn(candidate=claimed, progress=progress)
