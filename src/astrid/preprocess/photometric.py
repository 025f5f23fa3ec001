"""Photometric scaling between the aligned reference and the science image.

F_r (ZOGY's reference flux zero point, with the science one set to 1) is the weighted,
sigma-clipped mean of reference/science flux ratios of bright isolated stars. Each flux
is a linear fit of the image's own PSF model (shifted to the star's sub-pixel position)
plus a constant, so differences in seeing and in background level do not bias it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.stats import sigma_clip

from astrid.errors import AlignmentError
from astrid.preprocess.psf import PSFModel, fourier_shift, psf_fwhm

__all__ = ["FluxRatio", "measure_flux_ratio", "psf_flux"]


@dataclass(frozen=True)
class FluxRatio:
    """Reference / science flux ratio, its standard error and the stars used."""

    ratio: float
    error: float
    n_stars: int


def psf_flux(
    data: np.ndarray, mask: np.ndarray, psf: PSFModel, x: float, y: float, noise: float
) -> tuple[float, float]:
    """PSF-fit flux (with a free constant background) and its background-noise error.

    Returns ``(nan, nan)`` when the fit box leaves the image or touches masked pixels.
    """
    stamp = psf.at(x, y)
    half = max(3, int(np.ceil(2.0 * psf_fwhm(stamp))))
    half = min(half, stamp.shape[0] // 2)
    xi, yi = int(round(x)), int(round(y))
    ny, nx = data.shape
    if xi - half < 0 or yi - half < 0 or xi + half >= nx or yi + half >= ny:
        return np.nan, np.nan
    box = (slice(yi - half, yi + half + 1), slice(xi - half, xi + half + 1))
    if mask[box].any():
        return np.nan, np.nan
    c = stamp.shape[0] // 2
    model = fourier_shift(stamp, x - xi, y - yi)[c - half : c + half + 1, c - half : c + half + 1]
    design = np.column_stack([model.ravel(), np.ones(model.size)])
    coeffs, *_ = np.linalg.lstsq(design, data[box].astype(float).ravel(), rcond=None)
    cov = np.linalg.inv(design.T @ design) * noise**2
    return float(coeffs[0]), float(np.sqrt(cov[0, 0]))


def measure_flux_ratio(
    science: np.ndarray,
    reference: np.ndarray,
    mask: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    *,
    science_psf: PSFModel,
    reference_psf: PSFModel,
    science_sigma: float,
    reference_sigma: float,
    min_snr: float = 20.0,
    label: str = "reference",
) -> FluxRatio:
    """Measure F_r from PSF-fit fluxes of stars at science positions ``(x, y)``.

    Parameters
    ----------
    science, reference : ndarray
        Background-subtracted images on the same grid.
    mask : ndarray of bool
        Pixels bad in either image; stars touching them are skipped.
    x, y : ndarray
        Star positions (science pixels), e.g. the PSF stars.
    science_psf, reference_psf : PSFModel
        Each image's PSF.
    science_sigma, reference_sigma : float
        Background noise of each image.
    min_snr : float
        Stars below this SNR in either image are skipped.
    label : str
        Name of the pair, for error messages.

    Raises
    ------
    AlignmentError
        Fewer than 3 usable stars.
    """
    ratios, weights = [], []
    for xi, yi in zip(x, y, strict=True):
        fs, es = psf_flux(science, mask, science_psf, xi, yi, science_sigma)
        fr, er = psf_flux(reference, mask, reference_psf, xi, yi, reference_sigma)
        if not (np.isfinite(fs) and np.isfinite(fr)) or fs < min_snr * es or fr < min_snr * er:
            continue
        ratio = fr / fs
        ratios.append(ratio)
        weights.append(1.0 / (ratio**2 * ((es / fs) ** 2 + (er / fr) ** 2)))
    n = len(ratios)
    if n < 3:
        raise AlignmentError(
            f"{label}: only {n} stars usable for the photometric scaling (need 3)", n_stars=n
        )
    r = np.asarray(ratios)
    w = np.asarray(weights)
    clipped = sigma_clip(r, sigma=3.0, maxiters=5, masked=True)
    keep = ~np.ma.getmaskarray(clipped)
    mean = float(np.sum(r[keep] * w[keep]) / np.sum(w[keep]))
    # Error from the scatter (it includes PSF-model errors the formal weights miss).
    scatter = float(np.std(r[keep]))
    return FluxRatio(
        ratio=mean, error=scatter / np.sqrt(max(int(keep.sum()) - 1, 1)), n_stars=int(keep.sum())
    )
