"""Forced photometry on a flux product: interpolation, masked pixels, edges."""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from scipy import ndimage

from astrid.difference import DifferenceProduct
from astrid.objects import forced, forced_photometry


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


def test_windowed_spline_is_the_whole_image_spline() -> None:
    """A few positions on a large image are interpolated in windows around them: the
    values of a spline prefiltered over the whole image, to rounding, at the border and
    next to NaN too."""
    rng = np.random.default_rng(4)
    image = ndimage.gaussian_filter(rng.normal(size=(512, 512)), 2.0).astype(np.float32) * 50
    image[40:43, 60:63] = np.nan
    xs = np.concatenate([rng.uniform(1, 510, 20), [1.2, 510.7, 61.5, 300.0]])
    ys = np.concatenate([rng.uniform(1, 510, 20), [200.1, 1.3, 41.5, 510.9]])
    assert len(xs) * (2 * forced._WINDOW + 2) ** 2 <= image.size // 4  # the windowed path
    spline, bilinear = forced._interpolated(image, xs, ys)
    data = np.nan_to_num(image.astype(np.float64))
    whole = ndimage.map_coordinates(data, [ys, xs], order=3, mode="nearest")
    np.testing.assert_allclose(spline, whole, rtol=0, atol=1e-9)
    linear = ndimage.map_coordinates(data, [ys, xs], order=1, mode="nearest")
    np.testing.assert_allclose(bilinear, linear, rtol=0, atol=1e-12)
