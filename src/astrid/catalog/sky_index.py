"""Cone searches over the candidates' HEALPix index.

Candidates carry ``healpix``, their nested pixel at ``nside = 2**16`` (order 16). In the
nested scheme the order-16 descendants of a pixel ``p`` of order ``k`` are exactly the
contiguous range ``[p * 4**(16-k), (p + 1) * 4**(16-k))``. A cone is therefore covered by
the coarse pixels that touch it (astropy-healpix ``cone_search_lonlat``, which includes
partial overlaps), at an order chosen so that a few dozen coarse pixels cover it, and
those become a short list of index ranges for ``BETWEEN`` queries. The ranges are a
superset of the cone; the caller keeps the rows within the exact angular distance.

Positions are degrees ICRS.
"""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
from astropy_healpix import HEALPix

from astrid.catalog.models import HEALPIX_NSIDE

__all__ = ["INDEX_ORDER", "angular_separation_deg", "cone_ranges"]

INDEX_ORDER = int(math.log2(HEALPIX_NSIDE))
"""The order of the stored index (nside = 2**INDEX_ORDER)."""

# Coarse pixels about this many times smaller than the radius: ~ (2 * 2)^2 * pi/4 ~ 15-50
# pixels per cone, each one index range before merging.
_PIXELS_PER_RADIUS = 2.0


def _coarse_order(radius_deg: float) -> int:
    """The order whose pixel side is about ``radius / _PIXELS_PER_RADIUS``."""
    # pixel side at order k ~ sqrt(4 pi / (12 * 4**k)) rad = 58.6 deg / 2**k
    side0 = math.degrees(math.sqrt(4 * math.pi / 12))
    if radius_deg <= 0:
        return INDEX_ORDER
    # a difference of logarithms: side0 / wanted overflows for radii like 1e-307
    order = math.floor(math.log2(side0) - math.log2(radius_deg) + math.log2(_PIXELS_PER_RADIUS))
    return min(max(order, 0), INDEX_ORDER)


def cone_ranges(ra_deg: float, dec_deg: float, radius_deg: float) -> list[tuple[int, int]]:
    """Index ranges ``[start, stop)`` at order `INDEX_ORDER` covering a cone.

    Parameters
    ----------
    ra_deg, dec_deg : float
        Centre, degrees ICRS; ``dec`` within [-90, 90].
    radius_deg : float
        Radius in degrees, > 0 and at most 180.

    Returns
    -------
    list of (int, int)
        Sorted, non-overlapping, non-adjacent half-open ranges of order-16 nested pixels.

    Raises
    ------
    ValueError
        For a position or radius out of range.

    Examples
    --------
    >>> ranges = cone_ranges(150.0, 2.0, 0.01)
    >>> len(ranges) < 20 and all(a < b for a, b in ranges)
    True
    """
    if not (math.isfinite(ra_deg) and math.isfinite(dec_deg) and -90.0 <= dec_deg <= 90.0):
        raise ValueError(
            f"cone centre must be finite with dec in [-90, 90], got ({ra_deg}, {dec_deg})"
        )
    if not (math.isfinite(radius_deg) and 0.0 < radius_deg <= 180.0):
        raise ValueError(f"cone radius must be within (0, 180] degrees, got {radius_deg!r}")
    order = _coarse_order(radius_deg)
    coarse = HEALPix(nside=2**order, order="nested")
    found = coarse.cone_search_lonlat(ra_deg * u.deg, dec_deg * u.deg, radius=radius_deg * u.deg)
    # cone_search_lonlat misses pixels that a cone much smaller than a pixel only grazes
    # (found by tests/catalog/test_sky_index.py); such a cone lies within the pixel of its
    # centre and that pixel's neighbours, so those are added.
    centre = coarse.lonlat_to_healpix(ra_deg * u.deg, dec_deg * u.deg)
    with np.errstate(invalid="ignore"):  # corners without a neighbour come back as -1
        around = coarse.neighbours(centre)
    pixels = np.unique(np.concatenate([found, [centre], around[around >= 0]]))
    shift = 4 ** (INDEX_ORDER - order)
    ranges: list[tuple[int, int]] = []
    for pixel in (int(p) for p in pixels):
        start, stop = pixel * shift, (pixel + 1) * shift
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], stop)
        else:
            ranges.append((start, stop))
    return ranges


def angular_separation_deg(
    ra1_deg: np.ndarray | float,
    dec1_deg: np.ndarray | float,
    ra2_deg: float,
    dec2_deg: float,
) -> np.ndarray:
    """Great-circle distance in degrees (Vincenty formula: stable at all separations)."""
    ra1, dec1 = np.radians(ra1_deg), np.radians(dec1_deg)
    ra2, dec2 = math.radians(ra2_deg), math.radians(dec2_deg)
    dra = ra1 - ra2
    num = np.hypot(
        np.cos(dec1) * np.sin(dra),
        math.cos(dec2) * np.sin(dec1) - math.sin(dec2) * np.cos(dec1) * np.cos(dra),
    )
    den = math.sin(dec2) * np.sin(dec1) + math.cos(dec2) * np.cos(dec1) * np.cos(dra)
    return np.asarray(np.degrees(np.arctan2(num, den)))
