"""How much of one image's sky another image covers, from their WCS alone.

`overlap_fraction` maps the centres of a grid of equal cells of the first image (about
``step`` pixels wide) to the sky and into the second image's pixels, and returns the share
that lands inside it. Pure: two WCS and two shapes in, a number out.
"""

from __future__ import annotations

import numpy as np
from astropy.wcs import WCS

__all__ = ["overlap_fraction"]


def overlap_fraction(
    wcs: WCS,
    shape: tuple[int, int],
    other_wcs: WCS,
    other_shape: tuple[int, int],
    *,
    step: int = 32,
) -> float:
    """Share (0–1) of the image ``(wcs, shape)`` whose sky falls inside ``other``.

    Parameters
    ----------
    wcs, other_wcs : WCS
        Celestial WCS of each image.
    shape, other_shape : tuple of int
        ``(ny, nx)`` of each.
    step : int
        About how many pixels apart the sampled points are.
    """
    ny, nx = shape
    n_x, n_y = max(2, -(-nx // step)), max(2, -(-ny // step))
    xs = (np.arange(n_x) + 0.5) * nx / n_x - 0.5
    ys = (np.arange(n_y) + 0.5) * ny / n_y - 0.5
    gx, gy = np.meshgrid(xs, ys)
    ra, dec = wcs.pixel_to_world_values(gx.ravel(), gy.ravel())
    with np.errstate(invalid="ignore"):
        ox, oy = other_wcs.world_to_pixel_values(ra, dec)
    oy_max, ox_max = other_shape
    inside = (
        np.isfinite(ox)
        & np.isfinite(oy)
        & (ox >= -0.5)
        & (ox <= ox_max - 0.5)
        & (oy >= -0.5)
        & (oy <= oy_max - 0.5)
    )
    return float(inside.mean())
