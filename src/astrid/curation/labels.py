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
    "OBJECT_CLASSES",
    "OBJECT_CLASS_TITLES",
    "REAL_LABELS",
    "UNSURE_LABEL",
    "LabelName",
    "ObjectClassName",
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

#: What a curator may say an *object* is (its astrophysical class), beside the real/bogus
#: labels of its candidates: supernova types, tidal disruption event, active nucleus,
#: cataclysmic variable, variable star, solar-system object, bogus, other; each with how
#: people write it (pages show the titles).
OBJECT_CLASS_TITLES: dict[str, str] = {
    "sn_ia": "SN Ia",
    "sn_ii": "SN II",
    "sn_ibc": "SN Ibc",
    "tde": "TDE",
    "agn": "AGN",
    "cv": "CV",
    "variable_star": "variable star",
    "asteroid": "asteroid",
    "bogus": "bogus",
    "other": "other",
}
OBJECT_CLASSES: tuple[str, ...] = tuple(OBJECT_CLASS_TITLES)

ObjectClassName = Literal[OBJECT_CLASSES]  # type: ignore[valid-type]
"""An object class as a type, for request validation."""


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
