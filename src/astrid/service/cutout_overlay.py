"""Where the marks over a displayed cutout go: crosshair, north and east arrows, scale bar.

Cutouts are ``size × size`` stamps of the science pixel grid centred on the pixel nearest
the candidate (`astrid.difference.cutouts.cutout`) and carry no WCS of their own; the
science image's WCS at the candidate's position orients them. The geometry is given in
*display* coordinates of the PNG (`astrid.service.cutout_images`): ``u`` to the right,
``v`` downwards (rows are flipped for display, so FITS ``+y`` is ``-v``), one unit per
cutout pixel, pixel ``k`` spanning ``[k, k + 1]``. The web page draws it as SVG over the
image with ``viewBox="0 0 size size"``, so the marks follow any zoom.

North and east are the directions in which declination and right ascension grow at the
candidate, measured through the WCS (a one-arcsecond step on the sky mapped back to
pixels), so they are right for rotated and flipped (east-right) images alike.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

__all__ = ["SCALE_BAR_ARCSEC", "Compass", "CutoutOverlay", "cutout_overlay"]

logger = logging.getLogger(__name__)

#: Scale bar lengths to choose from: the longest that fits in `_BAR_FRACTION` of the stamp.
SCALE_BAR_ARCSEC = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_BAR_FRACTION = 0.35
_STEP_ARCSEC = 1.0


@dataclass(frozen=True)
class Compass:
    """Unit vectors of north and east in display coordinates, and the pixel scale."""

    north: tuple[float, float]
    east: tuple[float, float]
    arcsec_per_pixel: float


@dataclass(frozen=True)
class CutoutOverlay:
    """The marks over one cutout, in display coordinates (see the module docstring).

    ``compass`` and the scale bar are None when the image has no usable WCS.
    """

    size: int
    centre: tuple[float, float]
    compass: Compass | None
    scale_bar_arcsec: float | None
    scale_bar_pixels: float | None

    @property
    def scale_bar_label(self) -> str:
        """The bar's length as text: ``5″``, ``2′``."""
        if self.scale_bar_arcsec is None:
            return ""
        if self.scale_bar_arcsec >= 60:
            return f"{self.scale_bar_arcsec / 60:g}′"
        return f"{self.scale_bar_arcsec:g}″"


def _compass(wcs: WCS, x: float, y: float) -> Compass | None:
    """North and east at pixel ``(x, y)`` (0-based) as display unit vectors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        here = wcs.pixel_to_world(x, y)
        if not isinstance(here, SkyCoord):
            return None
        step = _STEP_ARCSEC * u.arcsec
        vectors = []
        for angle in (0.0, 90.0):  # position angle: north, then east
            there = here.directional_offset_by(angle * u.deg, step)
            px, py = wcs.world_to_pixel(there)
            vectors.append((float(px) - x, float(py) - y))
    (nx, ny), (ex, ey) = vectors
    length = math.hypot(nx, ny)
    if not (np.isfinite([nx, ny, ex, ey]).all() and length > 0 and math.hypot(ex, ey) > 0):
        return None
    east_length = math.hypot(ex, ey)
    # display: v grows downwards, FITS y upwards
    return Compass(
        north=(nx / length, -ny / length),
        east=(ex / east_length, -ey / east_length),
        arcsec_per_pixel=_STEP_ARCSEC / math.sqrt(length * east_length),
    )


def cutout_overlay(wcs: WCS | None, x: float, y: float, size: int) -> CutoutOverlay:
    """The crosshair, compass and scale bar of the cutout centred on pixel ``(x, y)``.

    Parameters
    ----------
    wcs : astropy.wcs.WCS or None
        Celestial WCS of the science image (None: crosshair only).
    x, y : float
        The candidate's position in the science image, pixels, 0-based.
    size : int
        Side of the (square) cutout in pixels.

    Returns
    -------
    CutoutOverlay

    Examples
    --------
    >>> cutout_overlay(None, 100.3, 50.0, 63).centre
    (31.8, 31.5)
    """
    half = size // 2
    col = half + (x - round(x))
    row = half + (y - round(y))
    centre = (round(col + 0.5, 3), round(size - 1 - row + 0.5, 3))
    compass = _compass(wcs, x, y) if wcs is not None else None
    bar_arcsec = bar_pixels = None
    if compass is not None:
        fits_in = _BAR_FRACTION * size * compass.arcsec_per_pixel
        choices = [a for a in SCALE_BAR_ARCSEC if a <= fits_in]
        bar_arcsec = choices[-1] if choices else None
        if bar_arcsec is not None:
            bar_pixels = bar_arcsec / compass.arcsec_per_pixel
    return CutoutOverlay(
        size=size,
        centre=centre,
        compass=compass,
        scale_bar_arcsec=bar_arcsec,
        scale_bar_pixels=bar_pixels,
    )
