"""Forced photometry: the flux of a point source at a given position on a difference image.

The difference product holds ZOGY's PSF-fit flux α at every pixel
(`astrid.difference.DifferenceProduct`); α is the matched-filter output, so it is smooth on
the PSF scale and the flux at a sub-pixel position is α interpolated there (cubic spline).
Its error is the product's error map at the nearest pixel. A position is covered when it
lies inside the image and no pixel of the interpolation stencil is masked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from astrid.difference.products import DifferenceProduct

__all__ = ["ForcedPhotometry", "forced_photometry", "object_pixels"]


@dataclass(frozen=True)
class ForcedPhotometry:
    """Flux at given positions of one difference image (NaN where not covered)."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    flux: NDArray[np.float64]
    flux_err: NDArray[np.float64]
    covered: NDArray[np.bool_]

    @property
    def snr(self) -> NDArray[np.float64]:
        """flux / flux_err."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.flux / self.flux_err


def object_pixels(
    product: DifferenceProduct, ra: ArrayLike, dec: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """0-based pixel positions (x, y) of sky positions (degrees) on the product's grid."""
    x, y = product.wcs.all_world2pix(
        np.atleast_1d(np.asarray(ra, dtype=float)), np.atleast_1d(np.asarray(dec, dtype=float)), 0
    )
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def forced_photometry(product: DifferenceProduct, x: ArrayLike, y: ArrayLike) -> ForcedPhotometry:
    """Point-source flux and 1σ error at 0-based pixel positions ``(x, y)``."""
    xs = np.atleast_1d(np.asarray(x, dtype=float))
    ys = np.atleast_1d(np.asarray(y, dtype=float))
    ny, nx = product.shape
    flux = np.full(xs.shape, np.nan)
    err = np.full(xs.shape, np.nan)
    inside = np.isfinite(xs) & np.isfinite(ys)
    inside &= (xs >= 1) & (xs <= nx - 2) & (ys >= 1) & (ys <= ny - 2)
    if inside.any():
        xi, yi = xs[inside], ys[inside]
        # the 4×4 stencil of the cubic spline around each position must be unmasked
        x0 = np.floor(xi).astype(int)
        y0 = np.floor(yi).astype(int)
        clean = np.ones(xi.shape, dtype=bool)
        for dy in (-1, 0, 1, 2):
            for dx in (-1, 0, 1, 2):
                yy = np.clip(y0 + dy, 0, ny - 1)
                xx = np.clip(x0 + dx, 0, nx - 1)
                clean &= np.isfinite(product.flux[yy, xx])
        values = ndimage.map_coordinates(
            np.nan_to_num(product.flux.astype(np.float64)), [yi, xi], order=3, mode="nearest"
        )
        errors = product.flux_err[np.rint(yi).astype(int), np.rint(xi).astype(int)]
        flux[inside] = np.where(clean, values, np.nan)
        err[inside] = np.where(clean, errors, np.nan)
    covered = np.isfinite(flux) & np.isfinite(err) & (err > 0)
    return ForcedPhotometry(xs, ys, flux, err, covered)
