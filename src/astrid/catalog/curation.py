"""Labels, consensus and the review queue's claims, stored in the catalog.

Several curators may label the same candidate; each label is kept (the history), and the
consensus is computed from them by `astrid.curation.consensus`. Review mode hands each
curator the candidate that most needs a human (`astrid.curation.queue`) among those not
yet labelled enough, not labelled by this curator and not claimed by another curator; the
claim is a row keyed by candidate id, so two curators racing for the same candidate
cannot both insert it: the loser moves on to the next. A claim older than the claim
timeout is abandoned (a closed browser tab) and may be taken over.

Every write is recorded in the audit log in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from astrid.catalog.access import audit_entry
from astrid.catalog.models import Candidate, Label, ReviewClaim, utcnow
from astrid.catalog.query_params import InvalidQueryError
from astrid.catalog.records import record_from_row
from astrid.catalog.repository import Catalog, catalog_errors
from astrid.curation.consensus import Consensus, Vote, consensus
from astrid.curation.labels import LABELS
from astrid.curation.queue import ReviewWeights
from astrid.errors import StorageError

__all__ = [
    "LabelRecord",
    "ReviewProgress",
    "add_label",
    "all_labels",
    "claim_next",
    "consensus_of",
    "labels_of",
    "priority_expression",
    "release_claim",
    "review_progress",
]

MAX_COMMENT_LENGTH = 2000
# Claim attempts before giving up when other curators keep winning the race.
_CLAIM_ATTEMPTS = 8


@dataclass(frozen=True)
class LabelRecord:
    """One label of one candidate by one curator."""

    id: int
    candidate_id: int
    curator: str
    label: str
    comment: str | None
    created_at: datetime

    @property
    def vote(self) -> Vote:
        """The label as a consensus vote."""
        return Vote(self.curator, self.label, self.created_at)


@dataclass(frozen=True)
class ReviewProgress:
    """How far the review has come: candidates still waiting, and a curator's labels."""

    remaining: int
    labelled_by_curator: int
    claimed_by_others: int


def _label_record(row: Label) -> LabelRecord:
    return record_from_row(LabelRecord, row)


def add_label(
    catalog: Catalog,
    *,
    candidate_id: int,
    curator: str,
    label: str,
    comment: str | None = None,
    actor: str,
) -> LabelRecord:
    """Store ``curator``'s label of a candidate and release their claim on it.

    Parameters
    ----------
    catalog : Catalog
    candidate_id : int
    curator : str
        Who labels (the name consensus counts by).
    label : str
        One of `astrid.curation.labels.LABELS`.
    comment : str, optional
        Free text, at most `MAX_COMMENT_LENGTH` characters.
    actor : str
        Who did it, for the audit log.

    Returns
    -------
    LabelRecord

    Raises
    ------
    InvalidQueryError
        For an unknown label, a too long comment or an empty curator.
    StorageError
        If there is no such candidate or the write fails (nothing is stored then).
    """
    if label not in LABELS:
        raise InvalidQueryError(
            f"label must be one of {', '.join(LABELS)}, got {label!r}", field="label"
        )
    if comment is not None and len(comment) > MAX_COMMENT_LENGTH:
        raise InvalidQueryError(
            f"comment must be at most {MAX_COMMENT_LENGTH} characters, got {len(comment)}",
            field="comment",
        )
    if not curator.strip():
        raise InvalidQueryError("curator must not be empty", field="curator")
    with catalog_errors(f"label candidate {candidate_id}"), catalog.session() as session:
        with session.begin():
            if session.get(Candidate, candidate_id) is None:
                raise StorageError(
                    f"no candidate with id {candidate_id}", candidate_id=candidate_id
                )
            row = Label(
                candidate_id=candidate_id,
                curator=curator,
                label=label,
                comment=comment or None,
                created_at=utcnow(),
            )
            session.add(row)
            session.execute(
                delete(ReviewClaim).where(
                    ReviewClaim.candidate_id == candidate_id, ReviewClaim.curator == curator
                )
            )
            session.flush()
            session.add(
                audit_entry(
                    actor=actor,
                    action="label.create",
                    target=f"candidate:{candidate_id}",
                    detail={"label": label, "label_id": row.id, "curator": curator},
                )
            )
            return _label_record(row)


def labels_of(catalog: Catalog, candidate_ids: Sequence[int]) -> dict[int, list[LabelRecord]]:
    """Labels of each candidate, oldest first (candidates without labels are left out)."""
    if not candidate_ids:
        return {}
    query = (
        select(Label)
        .where(Label.candidate_id.in_(list(candidate_ids)))
        .order_by(Label.created_at, Label.id)
    )
    out: dict[int, list[LabelRecord]] = defaultdict(list)
    with catalog_errors("read labels"), catalog.session() as session:
        for row in session.scalars(query):
            out[row.candidate_id].append(_label_record(row))
    return dict(out)


def consensus_of(catalog: Catalog, candidate_ids: Sequence[int]) -> dict[int, Consensus]:
    """The consensus of every candidate in ``candidate_ids`` (``unlabelled`` when none)."""
    labels = labels_of(catalog, candidate_ids)
    return {cid: consensus(r.vote for r in labels.get(cid, [])) for cid in candidate_ids}


def all_labels(catalog: Catalog, *, max_rows: int) -> list[LabelRecord]:
    """Every label by id, refusing more than ``max_rows`` (for exports)."""
    with catalog_errors("read labels"), catalog.session() as session:
        count = int(session.scalar(select(func.count(Label.id))) or 0)
        if count > max_rows:
            raise InvalidQueryError(
                f"{count} labels, more than the {max_rows} one request may take",
                field="filters",
                count=count,
            )
        return [_label_record(r) for r in session.scalars(select(Label).order_by(Label.id))]


# -- the review queue ---------------------------------------------------------------------


def priority_expression(weights: ReviewWeights = ReviewWeights()) -> ColumnElement[float]:
    """`astrid.curation.queue.review_priority` as a SQL expression over the candidates."""
    uncertainty = case(
        (Candidate.rb.is_(None), 1.0), else_=1.0 - func.abs(2.0 * Candidate.rb - 1.0)
    )
    novelty = case(
        (Candidate.ood.is_(None), 0.0),
        (Candidate.ood < 0.0, 0.0),
        (Candidate.ood > 1.0, 1.0),
        else_=Candidate.ood,
    )
    return weights.rb_uncertainty * uncertainty + weights.ood * novelty


def _waiting(curator: str, labels_wanted: int) -> list[ColumnElement[bool]]:
    """Candidates that still need labels and that ``curator`` has not labelled."""
    n_labels = (
        select(func.count(func.distinct(Label.curator)))
        .where(Label.candidate_id == Candidate.id)
        .scalar_subquery()
    )
    mine = select(Label.id).where(Label.candidate_id == Candidate.id, Label.curator == curator)
    return [n_labels < labels_wanted, ~mine.exists()]


def claim_next(
    catalog: Catalog,
    *,
    curator: str,
    labels_wanted: int = 1,
    claim_timeout: timedelta = timedelta(minutes=15),
    weights: ReviewWeights = ReviewWeights(),
    skip: Sequence[int] = (),
) -> int | None:
    """Claim the candidate that most needs ``curator``'s review and return its id.

    A claim ``curator`` already holds (not yet labelled) is returned first, so reloading
    the page shows the same candidate. Otherwise the highest-priority waiting candidate
    that nobody holds a live claim on is claimed; ties go to the weakest detection
    (smallest ``|S_corr|``), then the lowest id. Claiming is recorded in the audit log.

    Parameters
    ----------
    skip : sequence of int
        Candidates not to hand out (ones the curator skipped in this session).

    Returns
    -------
    int or None
        The claimed candidate's id, or None when nothing is waiting.
    """
    waiting = _waiting(curator, labels_wanted)
    with catalog_errors(f"claim a candidate for {curator!r}"), catalog.session() as session:
        held = session.scalar(
            select(ReviewClaim.candidate_id)
            .join(Candidate, Candidate.id == ReviewClaim.candidate_id)
            .where(ReviewClaim.curator == curator, *waiting)
            .where(ReviewClaim.candidate_id.not_in(list(skip)))
            .order_by(ReviewClaim.claimed_at, ReviewClaim.candidate_id)
            .limit(1)
        )
        if held is not None:
            return int(held)
        for _ in range(_CLAIM_ATTEMPTS):
            now = utcnow()
            stale = now - claim_timeout
            live_claim = (
                select(ReviewClaim.candidate_id)
                .where(ReviewClaim.candidate_id == Candidate.id, ReviewClaim.claimed_at >= stale)
                .exists()
            )
            query = (
                select(Candidate.id)
                .where(*waiting, ~live_claim)
                .order_by(
                    priority_expression(weights).desc(), func.abs(Candidate.scorr), Candidate.id
                )
                .limit(1)
            )
            if skip:
                query = query.where(Candidate.id.not_in(list(skip)))
            chosen = session.scalar(query)
            session.rollback()
            if chosen is None:
                return None
            if _take(session, int(chosen), curator, now, stale):
                return int(chosen)
    return None


def _take(
    session: Session, candidate_id: int, curator: str, now: datetime, stale: datetime
) -> bool:
    """Insert (or take over a stale) claim; False when another curator got there first."""
    try:
        with session.begin():
            taken = session.execute(
                update(ReviewClaim)
                .where(ReviewClaim.candidate_id == candidate_id, ReviewClaim.claimed_at < stale)
                .values(curator=curator, claimed_at=now)
            )
            if int(getattr(taken, "rowcount", 0)) == 0:
                session.add(ReviewClaim(candidate_id=candidate_id, curator=curator, claimed_at=now))
                session.flush()
            session.add(
                audit_entry(
                    actor=curator, action="review.claim", target=f"candidate:{candidate_id}"
                )
            )
    except IntegrityError:
        return False
    return True


def release_claim(catalog: Catalog, *, candidate_id: int, curator: str) -> bool:
    """Give back ``curator``'s claim on a candidate (skipped); False when they held none."""
    with catalog_errors(f"release claim on {candidate_id}"), catalog.session() as session:
        with session.begin():
            result = session.execute(
                delete(ReviewClaim).where(
                    ReviewClaim.candidate_id == candidate_id, ReviewClaim.curator == curator
                )
            )
            released = int(getattr(result, "rowcount", 0)) > 0
            if released:
                session.add(
                    audit_entry(
                        actor=curator, action="review.release", target=f"candidate:{candidate_id}"
                    )
                )
            return released


def review_progress(
    catalog: Catalog,
    *,
    curator: str,
    labels_wanted: int = 1,
    claim_timeout: timedelta = timedelta(minutes=15),
) -> ReviewProgress:
    """Candidates still waiting for ``curator``, and how many they labelled."""
    stale = utcnow() - claim_timeout
    others = (
        select(ReviewClaim.candidate_id)
        .where(
            ReviewClaim.candidate_id == Candidate.id,
            ReviewClaim.curator != curator,
            ReviewClaim.claimed_at >= stale,
        )
        .exists()
    )
    waiting = _waiting(curator, labels_wanted)
    with catalog_errors("read review progress"), catalog.session() as session:
        remaining = session.scalar(select(func.count(Candidate.id)).where(*waiting, ~others))
        claimed = session.scalar(select(func.count(Candidate.id)).where(*waiting, others))
        mine = session.scalar(
            select(func.count(func.distinct(Label.candidate_id))).where(Label.curator == curator)
        )
    return ReviewProgress(
        remaining=int(remaining or 0),
        labelled_by_curator=int(mine or 0),
        claimed_by_others=int(claimed or 0),
    )
