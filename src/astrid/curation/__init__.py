"""Curation: what a human should look at next, and what the curators agree on.

Pure code over plain values (no SQL, no HTTP): `LABELS` is the label vocabulary,
`review_priority` orders the review queue, `consensus` combines several curators' labels
of one candidate. The catalog stores the
labels and claims (:mod:`astrid.catalog.curation`); the service and the web page call both.
"""

from astrid.curation.consensus import Consensus, Vote, consensus
from astrid.curation.labels import (
    ARTIFACT_LABELS,
    BOGUS_LABELS,
    LABELS,
    REAL_LABELS,
    UNSURE_LABEL,
    LabelName,
    label_class,
)
from astrid.curation.queue import ReviewWeights, review_priority

__all__ = [
    "ARTIFACT_LABELS",
    "BOGUS_LABELS",
    "LABELS",
    "REAL_LABELS",
    "UNSURE_LABEL",
    "Consensus",
    "LabelName",
    "ReviewWeights",
    "Vote",
    "consensus",
    "label_class",
    "review_priority",
]
