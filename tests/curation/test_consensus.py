"""Consensus of curators' labels, and the review priority (Python and SQL agree)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from astrid.catalog import connect
from astrid.catalog.curation import priority_expression
from astrid.catalog.models import Candidate
from astrid.curation import (
    ARTIFACT_LABELS,
    ReviewWeights,
    Vote,
    consensus,
    label_class,
    review_priority,
)
from astrid.store import ObjectStore
from service_catalog import seed

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _votes(*pairs: tuple[str, str]) -> list[Vote]:
    return [Vote(who, label, T0 + timedelta(minutes=i)) for i, (who, label) in enumerate(pairs)]


def test_no_votes_is_unlabelled() -> None:
    c = consensus([])
    assert (c.status, c.label, c.label_class, c.n_curators) == ("unlabelled", None, None, 0)


def test_majority_wins_and_latest_label_counts() -> None:
    c = consensus(_votes(("ann", "real"), ("bob", "real"), ("cy", "bogus")))
    assert (c.status, c.label, c.label_class) == ("agreed", "real", "real")
    assert c.agreement == pytest.approx(2 / 3)
    changed = consensus(_votes(("ann", "real"), ("bob", "bogus"), ("ann", "bogus")))
    assert (changed.label, changed.n_curators, changed.votes) == ("bogus", 2, {"bogus": 2})


def test_ties_are_disputed_and_unsure_counts_no_label() -> None:
    tie = consensus(_votes(("ann", "real"), ("bob", "bogus")))
    assert (tie.status, tie.label, tie.label_class) == ("disputed", None, None)
    unsure = consensus(_votes(("ann", "unsure"), ("bob", "unsure")))
    assert (unsure.status, unsure.n_curators, unsure.n_decided) == ("unsure", 2, 0)
    one = consensus(_votes(("ann", "unsure"), ("bob", "variable")))
    assert (one.status, one.label, one.label_class) == ("agreed", "variable", "real")


def test_artifact_kinds_agree_on_bogus() -> None:
    c = consensus(_votes(("ann", "cosmic_ray"), ("bob", "hot_pixel"), ("cy", "dipole")))
    assert (c.status, c.label, c.label_class) == ("disputed", None, "bogus")
    assert all(label_class(k) == "bogus" for k in ARTIFACT_LABELS)


def test_unknown_label_and_bad_quorum_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown label"):
        consensus(_votes(("ann", "maybe")))
    with pytest.raises(ValueError, match="quorum"):
        consensus([], quorum=1.0)


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from(["real", "bogus", "unsure"]))))
def test_consensus_invariants(pairs: list[tuple[str, str]]) -> None:
    c = consensus(_votes(*pairs))
    assert c.n_curators == len({who for who, _ in pairs})
    assert sum(c.votes.values()) == c.n_curators
    assert 0.0 <= c.agreement <= 1.0
    if c.status == "agreed":
        assert c.label is not None and c.agreement > 0.5


def test_priority_prefers_uncertain_and_novel() -> None:
    assert review_priority(0.5, None) == pytest.approx(1.0)
    assert review_priority(0.99, None) < review_priority(0.6, None)
    assert review_priority(0.99, 0.9) > review_priority(0.99, 0.1)
    assert review_priority(None, None) == pytest.approx(1.0)
    assert review_priority(0.5, 5.0) == pytest.approx(2.0), "ood is clipped to [0, 1]"
    with pytest.raises(ValueError):
        ReviewWeights(ood=-1.0)


def test_sql_priority_equals_python(tmp_path: Path) -> None:
    catalog = connect(f"sqlite:///{tmp_path / 'c.sqlite'}")
    seeded = seed(catalog, ObjectStore(tmp_path / "store"))
    weights = ReviewWeights(rb_uncertainty=0.7, ood=1.3)
    with catalog.engine.begin() as conn:  # out-of-range ood values too
        conn.execute(
            update(Candidate).where(Candidate.id == seeded.candidate_ids[0]).values(ood=-0.5)
        )
        conn.execute(
            update(Candidate).where(Candidate.id == seeded.candidate_ids[1]).values(ood=3.0)
        )
    with catalog.session() as session:
        rows = session.execute(
            select(Candidate.rb, Candidate.ood, priority_expression(weights))
        ).all()
    assert len(rows) == len(seeded.candidate_ids)
    for rb, ood, sql in rows:
        assert sql == pytest.approx(review_priority(rb, ood, weights))
