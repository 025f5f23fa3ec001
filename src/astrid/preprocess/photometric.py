"""Photometric scaling between the aligned reference and the science image.

F_r (ZOGY's reference flux zero point with the science one set to 1) is the robust mean
of reference/science flux ratios of matched, unsaturated stars, measured in apertures
large enough (3 × the broader FWHM) that differences in seeing do not bias it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sep
from astropy.stats import sigma_clipped_stats

from astrid.errors import AlignmentError

__all__ = ["FluxRatio", "measure_flux_ratio"]


@dataclass(frozen=True)
class FluxRatio:
    """Reference / science flux ratio, its standard error and the stars used."""

    ratio: float
    error: float
    n_stars: int


def measure_flux_ratio(
    science: np.ndarray,
    reference: np.ndarray,
    mask: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    *,
    science_rms: np.ndarray,
    reference_rms: np.ndarray,
    aperture_radius: float,
    min_snr: float = 30.0,
    label: str = "reference",
) -> FluxRatio:
    """Measure F_r from aperture fluxes of stars at science positions ``(x, y)``.

    Parameters
    ----------
    science, reference : ndarray
        Background-subtracted images on the same grid.
    mask : ndarray of bool
        Pixels bad in either image; stars touching them are skipped.
    x, y : ndarray
        Star positions (science pixels), e.g. the PSF stars.
    science_rms, reference_rms : ndarray
        Noise maps.
    aperture_radius : float
        Aperture radius in pixels.
    min_snr : float
        Stars below this SNR in either image are skipped.
    label : str
        Name of the pair, for error messages.

    Raises
    ------
    AlignmentError
        Fewer than 3 usable stars.
    """
    sci = np.ascontiguousarray(science, dtype=np.float32)
    ref = np.ascontiguousarray(reference, dtype=np.float32)
    fs, es, flag_s = sep.sum_circle(sci, x, y, aperture_radius, err=science_rms, mask=mask)
    fr, er, flag_r = sep.sum_circle(ref, x, y, aperture_radius, err=reference_rms, mask=mask)
    ok = (
        (flag_s == 0)
        & (flag_r == 0)
        & (fs > min_snr * es)
        & (fr > min_snr * er)
        & np.isfinite(fs)
        & np.isfinite(fr)
    )
    if ok.sum() < 3:
        raise AlignmentError(
            f"{label}: only {int(ok.sum())} stars usable for the photometric scaling (need 3)",
            n_stars=int(ok.sum()),
        )
    ratios = fr[ok] / fs[ok]
    mean, median, std = sigma_clipped_stats(ratios, sigma=3.0, maxiters=5)
    n = int(ok.sum())
    return FluxRatio(ratio=float(median), error=float(std / np.sqrt(n)), n_stars=n)
