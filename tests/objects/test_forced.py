"""Forced photometry on a flux product: interpolation, masked pixels, edges."""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from astrid.difference import DifferenceProduct
from astrid.objects import forced_photometry


def product(flux: np.ndarray, err: float = 2.0) -> DifferenceProduct:
    return DifferenceProduct(
        flux.astype(np.float32), np.full(flux.shape, err, np.float32), fits.Header(), None
    )


def smooth(shape: tuple[int, int] = (40, 40)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return 100.0 + 3.0 * xx + 2.0 * yy  # linear: every interpolation is exact


def test_flux_between_pixels_is_interpolated() -> None:
    out = forced_photometry(product(smooth()), [10.3, 20.75], [12.5, 5.2])
    assert np.allclose(out.flux, [100 + 30.9 + 25.0, 100 + 62.25 + 10.4])
    assert np.all(out.covered) and np.allclose(out.flux_err, 2.0)


def test_next_to_a_masked_pixel_the_bilinear_stencil_is_used() -> None:
    flux = smooth()
    flux[12, 9] = np.nan  # in the cubic 4×4 stencil of (10.3, 11.5), not in its 2×2
    out = forced_photometry(product(flux), [10.3], [11.5])
    assert out.covered[0] and np.isclose(out.flux[0], 100 + 30.9 + 23.0)


def test_a_masked_pixel_under_the_position_leaves_it_uncovered() -> None:
    flux = smooth()
    flux[11, 10] = np.nan
    out = forced_photometry(product(flux), [10.3, 30.0], [11.5, 30.0])
    assert not out.covered[0] and np.isnan(out.flux[0])
    assert out.covered[1]


def test_positions_off_the_image_or_not_finite_are_not_covered() -> None:
    out = forced_photometry(product(smooth()), [-3.0, 39.5, np.nan], [5.0, 5.0, 5.0])
    assert not out.covered.any()
