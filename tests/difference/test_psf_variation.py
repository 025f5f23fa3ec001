"""α corrected for the PSF across a ZOGY tile: forced photometry right at the corners too."""

from __future__ import annotations

import numpy as np
import pytest

from astrid.difference.psf_variation import correct_flux_for_psf_variation, flux_gain
from astrid.difference.zogy import ZogyConfig, ZogyInputs, zogy
from astrid.simulation.stamps import add_stamps

SIZE = 384
SIGMA = 10.0


def gaussian(fwhm: float, half: int = 12) -> np.ndarray:
    r2 = np.add.outer(np.arange(-half, half + 1) ** 2, np.arange(-half, half + 1) ** 2)
    psf = np.exp(-0.5 * r2 / (fwhm / 2.3548) ** 2)
    return psf / psf.sum()


def science_fwhm(x: float, y: float) -> float:
    """2.5 px at the centre, 4.5 px at the corners (a strongly varying camera PSF)."""
    c = (SIZE - 1) / 2
    return 2.5 + 2.0 * ((x - c) ** 2 + (y - c) ** 2) / (2 * c**2)


def science_psf(x: float, y: float) -> np.ndarray:
    return gaussian(science_fwhm(x, y))


def reference_psf(x: float, y: float) -> np.ndarray:
    return gaussian(2.2)


@pytest.fixture(scope="module")
def products() -> tuple[object, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    xy = np.array([[40.0, 40.0], [343.0, 45.0], [191.5, 191.5], [50.0, 340.0], [340.0, 338.0]])
    flux = np.full(len(xy), 2.0e4)
    science = rng.normal(0.0, SIGMA, (SIZE, SIZE))
    for (x, y), f in zip(xy, flux, strict=True):
        add_stamps(
            science,
            science_psf(x, y)[None] * f,
            np.array([int(x)]),
            np.array([int(y)]),
            np.array([1.0]),
        )
    reference = rng.normal(0.0, SIGMA / 3, (SIZE, SIZE))
    inputs = ZogyInputs(
        science=science,
        reference=reference,
        science_var=np.full((SIZE, SIZE), SIGMA**2),
        reference_var=np.full((SIZE, SIZE), (SIGMA / 3) ** 2),
        science_sigma=SIGMA,
        reference_sigma=SIGMA / 3,
        flux_ratio=1.0,
        science_psf=science_psf,
        reference_psf=reference_psf,
        mask=np.zeros((SIZE, SIZE), dtype=bool),
    )
    result = zogy(inputs, ZogyConfig(tile_size=SIZE, workers=1))
    return result, xy, flux


def test_alpha_misses_flux_where_the_psf_is_not_the_tiles_and_the_gain_restores_it(
    products: tuple[object, np.ndarray, np.ndarray],
) -> None:
    result, xy, flux = products
    corrected = correct_flux_for_psf_variation(result, science_psf)  # type: ignore[arg-type]
    gain = flux_gain(result, science_psf)  # type: ignore[arg-type]
    ix, iy = xy[:, 0].astype(int), xy[:, 1].astype(int)
    raw = result.flux[iy, ix] / flux  # type: ignore[attr-defined]
    fixed = corrected.flux[iy, ix] / flux
    corners = [0, 1, 3, 4]
    assert np.all(raw[corners] < 0.9)  # α alone loses > 10 % at the corners
    assert np.all(gain[iy[corners], ix[corners]] < 0.9)
    assert np.allclose(fixed, 1.0, atol=0.03)
    # errors scale alike, so the SNR of α is unchanged
    assert np.allclose(
        corrected.flux_err[iy, ix] * gain[iy, ix],
        result.flux_err[iy, ix],  # type: ignore[attr-defined]
        rtol=1e-5,
    )
