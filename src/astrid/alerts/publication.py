"""The publication rule: which detections get an alert.

By default a detection is published when its real/bogus score is above the operating
point of the model version that scored it (its model card's ``operating_threshold``: the
threshold at 1% false-positive rate on validation data when the model was trained;
`DEFAULT_OPERATING_THRESHOLD` for a card without one). A detection that was never scored
(``astrid run --no-score``) has no score to pass and is not published. A fixed ``min_rb``
replaces the cards' thresholds (``rb > min_rb``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from astrid.errors import ConfigurationError

__all__ = ["DEFAULT_OPERATING_THRESHOLD", "PublicationRule", "operating_threshold"]

#: The operating threshold of a model whose card names none.
DEFAULT_OPERATING_THRESHOLD = 0.5


def operating_threshold(card: Mapping[str, Any] | None) -> float:
    """A model card's operating threshold (called real iff ``rb >`` it), or the default.

    Examples
    --------
    >>> operating_threshold({"operating_threshold": 0.83})
    0.83
    >>> operating_threshold({})
    0.5
    """
    value = (card or {}).get("operating_threshold")
    return DEFAULT_OPERATING_THRESHOLD if value is None else float(value)


@dataclass(frozen=True)
class PublicationRule:
    """Which detections are published as alerts.

    Parameters
    ----------
    min_rb : float, optional
        Publish when ``rb > min_rb``; None (the default) uses the operating threshold of
        the model version that scored the detection.

    Examples
    --------
    >>> rule, card = PublicationRule(), {"operating_threshold": 0.8}
    >>> rule.passes(0.9, card), rule.passes(0.7, card)
    (True, False)
    >>> PublicationRule(min_rb=0.95).passes(0.9, card)
    False
    >>> rule.passes(None, {})
    False
    """

    min_rb: float | None = None

    def __post_init__(self) -> None:
        if self.min_rb is not None and not math.isfinite(self.min_rb):
            raise ConfigurationError(f"min_rb must be a finite number, got {self.min_rb}")

    def threshold(self, card: Mapping[str, Any] | None) -> float:
        """The real/bogus threshold for a detection scored by the model with ``card``."""
        return self.min_rb if self.min_rb is not None else operating_threshold(card)

    def passes(self, rb: float | None, card: Mapping[str, Any] | None) -> bool:
        """Whether a detection with score ``rb`` (None: not scored) is published."""
        return rb is not None and math.isfinite(rb) and rb > self.threshold(card)
