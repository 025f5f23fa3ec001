"""Consensus of several curators' labels of one candidate.

Each curator counts once, with their latest label. ``unsure`` is a vote for "a human looked
and could not tell": it counts as a curator but for no label. A label wins when more than
``quorum`` of the decided votes (those that are not ``unsure``) name it; otherwise the
candidate is *disputed*. Independently, the labels fall in two classes, ``real`` (real,
variable) and ``bogus`` (bogus and every artifact kind), and the class consensus is the
same vote taken over classes, which is what a real/bogus training set needs: two curators
saying ``cosmic_ray`` and ``hot_pixel`` disagree on the kind but agree the candidate is bogus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from astrid.curation.labels import UNSURE_LABEL, label_class

__all__ = ["Consensus", "Vote", "consensus"]


Status = Literal["unlabelled", "agreed", "disputed", "unsure"]


@dataclass(frozen=True)
class Vote:
    """One curator's label at one time (``created_at`` timezone-aware)."""

    curator: str
    label: str
    created_at: datetime


@dataclass(frozen=True)
class Consensus:
    """What the curators of one candidate agree on.

    Attributes
    ----------
    status : {"unlabelled", "agreed", "disputed", "unsure"}
        ``unsure`` when every curator said unsure; ``disputed`` when no label has a
        majority of the decided votes.
    label : str or None
        The agreed label (``status == "agreed"``).
    label_class : {"real", "bogus"} or None
        The agreed class, which may exist when the kinds are disputed.
    agreement : float
        Share of decided votes for the winning label (0 when none decided).
    n_curators, n_decided : int
        Curators who labelled; those whose latest label is not unsure.
    votes : dict of str to int
        Latest labels counted by label.
    """

    status: Status
    label: str | None
    label_class: str | None
    agreement: float
    n_curators: int
    n_decided: int
    votes: dict[str, int]


def _majority(counts: Counter[str], n_decided: int, quorum: float) -> tuple[str | None, float]:
    """The item with more than ``quorum`` of the decided votes, and its share."""
    if n_decided == 0:
        return None, 0.0
    (top, n_top), *rest = counts.most_common()
    share = n_top / n_decided
    tied = bool(rest) and rest[0][1] == n_top
    return (None if tied or share <= quorum else top), share


def consensus(votes: Iterable[Vote], *, quorum: float = 0.5) -> Consensus:
    """Combine curators' labels of one candidate.

    Parameters
    ----------
    votes : iterable of Vote
        Every label of the candidate, any order; a curator's latest one counts.
    quorum : float
        A label (or class) wins with strictly more than this share of the decided votes.

    Returns
    -------
    Consensus

    Raises
    ------
    ValueError
        For a quorum outside [0, 1) or an unknown label.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> c = consensus([Vote("ann", "cosmic_ray", t), Vote("bob", "hot_pixel", t)])
    >>> c.status, c.label, c.label_class
    ('disputed', None, 'bogus')
    """
    if not 0.0 <= quorum < 1.0:
        raise ValueError(f"quorum must be within [0, 1), got {quorum!r}")
    latest: dict[str, Vote] = {}
    for vote in votes:
        label_class(vote.label)  # refuses unknown labels
        held = latest.get(vote.curator)
        if held is None or vote.created_at >= held.created_at:
            latest[vote.curator] = vote
    counts = Counter(v.label for v in latest.values())
    decided = Counter({k: n for k, n in counts.items() if k != UNSURE_LABEL})
    n_decided = sum(decided.values())
    label, share = _majority(decided, n_decided, quorum)
    classes: Counter[str] = Counter()
    for name, n in decided.items():
        classes[label_class(name) or ""] += n
    klass, _ = _majority(classes, n_decided, quorum)
    status: Status
    if not latest:
        status = "unlabelled"
    elif n_decided == 0:
        status = "unsure"
    else:
        status = "agreed" if label is not None else "disputed"
    return Consensus(
        status=status,
        label=label,
        label_class=klass,
        agreement=share,
        n_curators=len(latest),
        n_decided=n_decided,
        votes=dict(sorted(counts.items())),
    )
