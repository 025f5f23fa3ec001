"""The label vocabulary: what a curator may say about a candidate, and its class.

Defined here once; the catalog's ``labels`` table constrains its column to `LABELS`, the
API and the web page offer the same names. Two classes matter for a real/bogus training
set: ``real`` (`REAL_LABELS`) and ``bogus`` (`BOGUS_LABELS`: ``bogus`` and each artifact
kind). ``unsure`` (`UNSURE_LABEL`) says a human looked and could not tell.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "ARTIFACT_LABELS",
    "BOGUS_LABELS",
    "LABELS",
    "REAL_LABELS",
    "UNSURE_LABEL",
    "LabelName",
    "label_class",
]

REAL_LABELS = ("real", "variable")
ARTIFACT_LABELS = (
    "cosmic_ray",
    "hot_pixel",
    "bad_column",
    "saturated_star",
    "bleed_trail",
    "dipole",
    "psf_ring",
    "satellite_trail",
    "noise",
)
BOGUS_LABELS = ("bogus", *ARTIFACT_LABELS)
UNSURE_LABEL = "unsure"
#: Every label, in the order pages list them (and the catalog's check constraint names them).
LABELS: tuple[str, ...] = ("real", "bogus", "variable", *ARTIFACT_LABELS, UNSURE_LABEL)

LabelName = Literal[LABELS]  # type: ignore[valid-type]
"""A label as a type, for request validation."""


def label_class(label: str) -> str | None:
    """``"real"`` or ``"bogus"`` for a label, None for ``unsure``.

    Raises
    ------
    ValueError
        For a label that is none of `REAL_LABELS`, `BOGUS_LABELS`, `UNSURE_LABEL`.
    """
    if label in REAL_LABELS:
        return "real"
    if label in BOGUS_LABELS:
        return "bogus"
    if label == UNSURE_LABEL:
        return None
    raise ValueError(f"unknown label {label!r}")
