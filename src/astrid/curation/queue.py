"""Which candidate most needs a human: the review queue's priority.

A candidate is worth a curator's time when the classifier cannot decide (real/bogus score
``rb`` near 0.5) or when it looks unlike the training data (high out-of-distribution score
``ood``, calibrated to [0, 1]). The priority is

    priority = w_rb * (1 - |2 rb - 1|) + w_ood * clip(ood, 0, 1)

with an unscored ``rb`` counting as fully uncertain and an unscored ``ood`` as 0, so before
any model has scored the catalog every candidate ties and the queue falls back to its
tie-breaker (the catalog's: weakest detection first, then id). Higher priority is reviewed
first. The catalog evaluates the same formula in SQL
(:func:`astrid.catalog.curation.priority_expression`); a test holds the two equal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ReviewWeights", "review_priority"]


@dataclass(frozen=True)
class ReviewWeights:
    """Weights of the two reasons to review (both non-negative)."""

    rb_uncertainty: float = 1.0
    ood: float = 1.0

    def __post_init__(self) -> None:
        for name in ("rb_uncertainty", "ood"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"ReviewWeights.{name} must be finite and >= 0, got {value!r}")


def review_priority(
    rb: float | None, ood: float | None, weights: ReviewWeights = ReviewWeights()
) -> float:
    """The review priority of a candidate with scores ``rb`` and ``ood`` (None: unscored).

    Examples
    --------
    >>> review_priority(0.5, None), round(review_priority(0.99, 0.8), 2)
    (1.0, 0.82)
    """
    uncertainty = 1.0 if rb is None else 1.0 - abs(2.0 * rb - 1.0)
    novelty = 0.0 if ood is None else min(max(ood, 0.0), 1.0)
    return weights.rb_uncertainty * uncertainty + weights.ood * novelty
