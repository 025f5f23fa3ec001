"""A simulated sky served by an archive stand-in: an `Image` (the simulator's deep
reference) resampled onto the grid of the stand-in's answer and put in the survey's units.

Shared by the PS1, Legacy Survey and SkyMapper stand-ins (`ps1_double`, `legacy_double`,
`skymapper_double`), whose ``sky`` attribute, when set, replaces their synthetic pixels
with this.
"""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales
from reproject import reproject_interp

from astrid.observations.image import Image

__all__ = ["resampled_sky"]


def resampled_sky(
    sky: Image,
    wcs: WCS,
    shape: tuple[int, int],
    *,
    zero_point: float,
    pixel_scale: float,
) -> np.ndarray:
    """``sky`` on the grid ``wcs`` × ``shape``, as flux per pixel of ``pixel_scale``
    arcseconds at ``zero_point`` (AB of one unit), float64.

    The interpolation keeps surface brightness, so the values are scaled by the pixel area
    (``pixel_scale`` over ``sky``'s own pixel, squared) and by ``10^(0.4 (zero_point -
    sky's zero point))``. ``sky``'s masked pixels, and the grid's pixels it does not reach,
    are NaN.
    """
    assert sky.wcs is not None, "the sky image needs a WCS"
    own_zero_point = sky.meta.zero_point
    assert own_zero_point is not None, "the sky image needs a zero point"
    source = np.where(sky.mask, np.nan, np.asarray(sky.data, float))
    data = np.asarray(reproject_interp((source, sky.wcs), wcs, shape, return_footprint=False))
    own_scale = float(np.mean(proj_plane_pixel_scales(sky.wcs.celestial))) * 3600.0
    area = (pixel_scale / own_scale) ** 2
    units = 10 ** (0.4 * (zero_point - own_zero_point))
    return np.where(np.isfinite(data), data, np.nan) * area * units
