"""Labelling candidates against what is known to be in the images.

A training candidate is *real* when it sits on an injected or simulated astrophysical
change (a transient, one on a galaxy or next to a star, a variable star, a source that
faded from the reference) and *bogus*
otherwise; bogus candidates are further named by the artifact that made them, so the
classifier's rejection can be measured per kind and the out-of-distribution score tested
on kinds left out of training.

Rules, first match wins (pixel distances in the science image):

1. real: within `REAL_RADIUS` of a real truth row;
2. hot pixel within 2.5 px; cosmic ray within 3 px of its track; bad column within 3 px
   of the column and along its segment (± 5 px); satellite trail within 5 px of its line;
3. saturated star: within 15 px of one, or on its bleed column (± 4 px, ± 150 px);
4. a residual of a star or galaxy (within 4 / 8 px of its centre): ``star_residual``, or
   the pipeline failure that made it (``dipole`` when the registration was off,
   ``psf_ring`` when the PSF model was wrong);
5. anything else: ``noise``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from scipy.spatial import cKDTree

__all__ = [
    "BOGUS_KINDS",
    "FADING_KINDS",
    "REAL_KINDS",
    "REAL_RADIUS",
    "KnownSources",
    "label_candidates",
]

#: Real changes with a negative difference (`astrid.training.fading`).
FADING_KINDS = ("fading", "fading_on_galaxy")
REAL_KINDS = (
    "transient",
    "transient_on_galaxy",
    "transient_near_star",
    "variable",
    *FADING_KINDS,
)
BOGUS_KINDS = (
    "cosmic_ray",
    "hot_pixel",
    "bad_column",
    "satellite_trail",
    "saturated_star",
    "dipole",
    "psf_ring",
    "star_residual",
    "noise",
)
REAL_RADIUS = 3.0
_RESIDUAL_KIND = {"plain": "star_residual", "dipole": "dipole", "psf_ring": "psf_ring"}


@dataclass(frozen=True)
class KnownSources:
    """What is in the science image, in science pixels.

    Attributes
    ----------
    truth : Table
        Rows with ``kind, x, y`` and, for elongated artifacts, ``length, angle`` (radians);
        kinds as in `REAL_KINDS`, the artifact kinds, ``star``, ``saturated_star``,
        ``galaxy``.
    """

    truth: Table

    def positions(self, kinds: Sequence[str]) -> np.ndarray:
        """``(n, 2)`` positions of rows of the given kinds."""
        kind = np.asarray(self.truth["kind"]).astype(str)
        sel = np.isin(kind, list(kinds))
        return np.column_stack(
            [np.asarray(self.truth["x"], float)[sel], np.asarray(self.truth["y"], float)[sel]]
        ).reshape(-1, 2)

    def rows(self, kind: str) -> Table:
        """The truth rows of one kind."""
        return self.truth[np.asarray(self.truth["kind"]).astype(str) == kind]


def _near(xy: np.ndarray, points: np.ndarray, radius: float) -> np.ndarray:
    if len(points) == 0 or len(xy) == 0:
        return np.zeros(len(xy), bool)
    dist, _ = cKDTree(points).query(xy, distance_upper_bound=radius)
    return np.isfinite(dist)


def _extent(rows: Table, name: str, default: float) -> np.ndarray:
    if name not in rows.colnames:
        return np.full(len(rows), default)
    values = np.asarray(rows[name], float)
    return np.where(np.isfinite(values), values, default)


def _near_segments(xy: np.ndarray, rows: Table, radius: float, pad: float) -> np.ndarray:
    """Within `radius` of any segment (centre, ``length`` along ``angle``), ± `pad` along it."""
    hit = np.zeros(len(xy), bool)
    if len(rows) == 0 or len(xy) == 0:
        return hit
    length = _extent(rows, "length", 0.0)
    angle = _extent(rows, "angle", 0.0)
    for x0, y0, ln, phi in zip(
        np.asarray(rows["x"], float), np.asarray(rows["y"], float), length, angle, strict=True
    ):
        ux, uy = np.cos(phi), np.sin(phi)
        along = (xy[:, 0] - x0) * ux + (xy[:, 1] - y0) * uy
        across = -(xy[:, 0] - x0) * uy + (xy[:, 1] - y0) * ux
        hit |= (np.abs(across) <= radius) & (np.abs(along) <= ln / 2 + pad)
    return hit


def label_candidates(
    x: np.ndarray, y: np.ndarray, known: KnownSources, *, variant: str = "plain"
) -> np.ndarray:
    """The kind of every candidate (`REAL_KINDS` or `BOGUS_KINDS`), by the module's rules.

    Parameters
    ----------
    x, y : ndarray
        Candidate positions (science pixels).
    known : KnownSources
        What is in the image.
    variant : {"plain", "dipole", "psf_ring"}
        Which pipeline failure, if any, the candidates come from; it names the residuals
        of stars and galaxies.

    Returns
    -------
    ndarray of str
    """
    if variant not in _RESIDUAL_KIND:
        raise ValueError(f"label_candidates: unknown variant {variant!r}")
    xy = np.column_stack([np.asarray(x, float), np.asarray(y, float)]).reshape(-1, 2)
    kinds = np.full(len(xy), "noise", dtype="<U24")
    todo = np.ones(len(xy), bool)

    def assign(kind: str, hit: np.ndarray) -> None:
        sel = todo & hit
        kinds[sel] = kind
        todo[sel] = False

    # Real first, nearest real kind wins.
    real = known.positions(REAL_KINDS)
    if len(real) and len(xy):
        dist, idx = cKDTree(real).query(xy, distance_upper_bound=REAL_RADIUS)
        real_kind = np.asarray(known.truth["kind"]).astype(str)
        real_kind = real_kind[np.isin(real_kind, REAL_KINDS)]
        ok = np.isfinite(dist)
        kinds[ok] = real_kind[idx[ok]]
        todo[ok] = False
    assign("hot_pixel", _near(xy, known.positions(["hot_pixel"]), 2.5))
    assign("cosmic_ray", _near_segments(xy, known.rows("cosmic_ray"), 3.0, 3.0))
    columns = known.rows("bad_column")
    assign("bad_column", _near_segments(xy, columns, 3.0, 5.0))
    trails = known.rows("satellite_trail")
    if len(trails):
        trails = trails.copy()
        trails["length"] = np.full(len(trails), 1e9)
    assign("satellite_trail", _near_segments(xy, trails, 5.0, 0.0))
    saturated = known.rows("saturated_star")
    if len(saturated):
        bleed = saturated.copy()
        bleed["length"] = np.full(len(bleed), 300.0)
        bleed["angle"] = np.full(len(bleed), np.pi / 2)
        assign(
            "saturated_star",
            _near(xy, known.positions(["saturated_star"]), 15.0)
            | _near_segments(xy, bleed, 4.0, 0.0),
        )
    residual = _RESIDUAL_KIND[variant]
    assign(
        residual,
        _near(xy, known.positions(["star"]), 4.0) | _near(xy, known.positions(["galaxy"]), 8.0),
    )
    return kinds
