"""Photometric calibration: a frame's zero point from the stars of a reference catalogue.

The frame's PSF stars (unsaturated, on the stellar locus) are matched by position to a
catalogue that gives AB magnitudes in the frame's band. Each star's instrumental magnitude
is its PSF-fit flux (`astrid.preprocess.photometric.psf_flux`, the same PSF model ZOGY's
fluxes use, so candidates, light curves and this zero point share one flux scale):

    m_cat = ZP - 2.5 log10(f) [+ k (c - c0)]

ZP is the weighted mean of ``m_cat + 2.5 log10(f)`` after iterative 3σ clipping (stars
that are variable, blended or mismatched fall out); when the catalogue gives a colour ``c``
for enough stars, a colour term ``k`` is fitted too and ZP is quoted at the median colour
``c0`` of the stars used (the colour of a typical source), as surveys quote theirs. The
error of ZP is the weighted standard error, scaled up by the reduced χ² when the scatter
exceeds the photometric errors (catalogue systematics, flat-field structure).

Pure: arrays, a WCS and a `PhotometricCatalogue` in, a `ZeroPoint` out.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from numpy.typing import NDArray

from astrid.errors import CalibrationError
from astrid.preprocess.photometric import psf_flux
from astrid.preprocess.psf import PSFModel, StarList

__all__ = [
    "BANDS",
    "PhotometricCatalogue",
    "ZeroPoint",
    "ZeroPointConfig",
    "band_of",
    "calibrate_zero_point",
]

log = logging.getLogger(__name__)

#: Bands a frame's filter name is mapped to (SDSS/PS1/DECam/LSST letters).
BANDS = ("u", "g", "r", "i", "z", "y")


def band_of(filter_name: str | None) -> str | None:
    """The band letter of a header's filter name, or None when it names none of `BANDS`.

    ``"r"``, ``"SDSS r'"``, ``"i DECam SDSS c0003 7835.0 1470.0"``, ``"ZTF_g"``, ``"rp"``
    give ``r``, ``r``, ``i``, ``g``, ``r``: the first word that is, or starts with, one band
    letter (``"ZTF_g"`` is split at ``_``).
    """
    if not filter_name:
        return None
    words = filter_name.replace("_", " ").replace("-", " ").replace("'", " ").split()
    for word in words:
        w = word.lower()
        if w in BANDS:
            return w
    for word in words:
        w = word.lower()
        # SDSS primes written out ("rp", "gp") and "ZTF-style" suffixes ("rs")
        if len(w) == 2 and w[0] in BANDS and w[1] in "ps":
            return w[0]
    return None


@dataclass(frozen=True, eq=False)
class PhotometricCatalogue:
    """Reference stars: ICRS degrees and AB magnitudes in one band.

    Attributes
    ----------
    ra, dec : ndarray
        Positions (degrees).
    mag, mag_err : ndarray
        AB magnitude in ``band`` and its error (NaN where unknown).
    colour : ndarray or None
        A colour of each star (e.g. g − r; NaN where unknown) for the colour term.
    band, colour_name, name : str
        The band, the colour's name and where the catalogue came from (file, service).
    """

    ra: NDArray[np.float64]
    dec: NDArray[np.float64]
    mag: NDArray[np.float64]
    mag_err: NDArray[np.float64]
    colour: NDArray[np.float64] | None
    band: str
    colour_name: str | None
    name: str

    def __post_init__(self) -> None:
        n = len(self.ra)
        sizes = {len(self.dec), len(self.mag), len(self.mag_err)}
        if self.colour is not None:
            sizes.add(len(self.colour))
        if sizes != {n}:
            raise CalibrationError(f"{self.name}: columns of different lengths")

    def __len__(self) -> int:
        return len(self.ra)


@dataclass(frozen=True)
class ZeroPointConfig:
    """Settings of the calibration.

    ``match_radius_arcsec`` is the largest frame-to-catalogue separation of one star;
    ``min_stars`` the fewest clipped stars a zero point is made of; ``min_snr`` the faintest
    star used; ``colour_min_stars`` the fewest stars with a colour for a colour term.
    """

    match_radius_arcsec: float = 1.5
    min_stars: int = 5
    min_snr: float = 20.0
    clip_sigma: float = 3.0
    colour_min_stars: int = 20
    max_stars: int = 400


@dataclass(frozen=True)
class ZeroPoint:
    """A frame's zero point: the AB magnitude of one unit of its flux.

    ``error`` is the 1σ error of ``value``; ``scatter`` the robust standard deviation of the
    stars about the fit (their individual accuracy); ``colour_term`` the fitted k (None
    without one), quoted at ``colour_zero`` (``value`` is the zero point of a source of
    that colour).
    """

    value: float
    error: float
    n_stars: int
    scatter: float
    colour_term: float | None
    colour_zero: float | None
    source: str

    def as_stats(self) -> dict[str, float]:
        """Numbers for a run's stats (NaN for an absent colour term)."""
        return {
            "zero_point": self.value,
            "zero_point_error": self.error,
            "zero_point_stars": float(self.n_stars),
            "zero_point_scatter": self.scatter,
            "zero_point_colour_term": math.nan if self.colour_term is None else self.colour_term,
        }


def _in_frame(catalogue: PhotometricCatalogue, wcs: WCS, shape: tuple[int, int]) -> NDArray:
    """Indices of catalogue stars that fall on the frame (with a 5-pixel margin)."""
    finite = np.flatnonzero(np.isfinite(catalogue.ra) & np.isfinite(catalogue.dec))
    finite = finite[np.isfinite(catalogue.mag[finite])]
    if finite.size == 0:
        return finite
    x, y = wcs.all_world2pix(catalogue.ra[finite], catalogue.dec[finite], 0, quiet=True)
    ny, nx = shape
    on = (x > -5) & (x < nx + 5) & (y > -5) & (y < ny + 5)
    return np.asarray(finite[on])


def _design(n: int, colour: NDArray | None) -> NDArray[np.float64]:
    """The design matrix of zp [+ k c] for n stars."""
    if colour is None:
        return np.ones((n, 1))
    return np.column_stack([np.ones(n), colour]).astype(np.float64)


def _fit(
    delta: NDArray, sigma: NDArray, design: NDArray[np.float64], clip: float
) -> tuple[NDArray, NDArray, NDArray]:
    """Weighted linear fit of delta = design @ coeffs with iterative clipping.

    Returns the coefficients, their covariance (unscaled) and the mask of stars kept.
    """
    keep = np.ones(delta.size, dtype=bool)
    coeffs = np.zeros(design.shape[1])
    cov: NDArray = np.eye(design.shape[1])
    for _ in range(10):
        w = 1.0 / sigma[keep] ** 2
        a = design[keep]
        normal = a.T @ (a * w[:, None])
        cov = np.linalg.inv(normal)
        coeffs = cov @ (a.T @ (w * delta[keep]))
        residual = delta - design @ coeffs
        # robust width of the residuals in units of each star's error, not below 1
        pull = residual / sigma
        width = max(1.0, 1.4826 * float(np.median(np.abs(pull[keep]))))
        new = np.abs(pull) < clip * width
        if np.array_equal(new, keep) or new.sum() < design.shape[1] + 2:
            break
        keep = new
    return coeffs, cov, keep


def calibrate_zero_point(
    data: np.ndarray,
    mask: np.ndarray,
    psf: PSFModel,
    stars: StarList,
    wcs: WCS,
    noise: float,
    catalogue: PhotometricCatalogue,
    config: ZeroPointConfig = ZeroPointConfig(),
    *,
    label: str = "image",
) -> ZeroPoint:
    """The zero point of a background-subtracted frame from a reference catalogue.

    Parameters
    ----------
    data, mask : ndarray
        The background-subtracted frame and its bad-pixel mask.
    psf : PSFModel
        The frame's PSF model (the fluxes are PSF fits).
    stars : StarList
        Sources found on the frame; its ``psf_candidate`` stars are the ones used.
    wcs : WCS
        The frame's celestial WCS.
    noise : float
        Background noise (1σ) of the frame.
    catalogue : PhotometricCatalogue
        Reference stars in the frame's band.

    Raises
    ------
    CalibrationError
        When fewer than ``config.min_stars`` stars match the catalogue; the message names
        the frame, the catalogue and the counts.
    """
    on = _in_frame(catalogue, wcs, data.shape)
    use = np.flatnonzero(stars.psf_candidate)
    snr = stars.flux[use] / np.maximum(stars.flux_err[use], 1e-30)
    use = use[snr >= config.min_snr]
    use = use[np.argsort(-stars.flux[use])][: config.max_stars]
    if on.size == 0 or use.size == 0:
        raise CalibrationError(
            f"{label}: cannot calibrate against {catalogue.name}: {on.size} catalogue stars "
            f"on the frame, {use.size} unsaturated stars with SNR >= {config.min_snr:g}"
        )
    ra, dec = wcs.all_pix2world(stars.x[use], stars.y[use], 0)
    frame = SkyCoord(ra, dec, unit="deg")
    reference = SkyCoord(catalogue.ra[on], catalogue.dec[on], unit="deg")
    nearest, sep, _ = frame.match_to_catalog_sky(reference)
    matched = sep.arcsec <= config.match_radius_arcsec
    # one catalogue star per frame star and the reverse: a pair that is not mutual is a blend
    idx = on[nearest[matched]]
    _, inverse, counts = np.unique(idx, return_inverse=True, return_counts=True)
    unique = counts[inverse] == 1
    star_idx, cat_idx = use[matched][unique], idx[unique]
    flux = np.full(star_idx.size, np.nan)
    flux_err = np.full(star_idx.size, np.nan)
    for j, s in enumerate(star_idx):
        flux[j], flux_err[j] = psf_flux(data, mask, psf, stars.x[s], stars.y[s], noise)
    good = np.isfinite(flux) & (flux > 0) & np.isfinite(flux_err)
    cat_err = np.nan_to_num(catalogue.mag_err[cat_idx], nan=0.02)
    good &= np.isfinite(catalogue.mag[cat_idx])
    if good.sum() < config.min_stars:
        raise CalibrationError(
            f"{label}: {good.sum()} stars match {catalogue.name} within "
            f"{config.match_radius_arcsec:g} arcsec ({on.size} catalogue stars on the frame, "
            f"{use.size} usable frame stars); at least {config.min_stars} are needed"
        )
    flux, flux_err, cat_idx = flux[good], flux_err[good], cat_idx[good]
    delta = catalogue.mag[cat_idx] + 2.5 * np.log10(flux)
    # photometric error of each star, with a 0.005 mag floor for flat-field and PSF model
    sigma = np.sqrt((1.0857 * flux_err / flux) ** 2 + np.clip(cat_err[good], 0, None) ** 2)
    sigma = np.hypot(sigma, 0.005)
    colour = None if catalogue.colour is None else catalogue.colour[cat_idx]
    colour_zero: float | None = None
    if colour is not None and np.isfinite(colour).sum() >= config.colour_min_stars:
        has = np.isfinite(colour)
        delta, sigma, colour = delta[has], sigma[has], colour[has]
        colour_zero = float(np.median(colour))
        design = _design(delta.size, colour - colour_zero)
    else:
        design = _design(delta.size, None)
    coeffs, cov, keep = _fit(delta, sigma, design, config.clip_sigma)
    n = int(keep.sum())
    if n < config.min_stars:
        raise CalibrationError(
            f"{label}: only {n} stars agree with {catalogue.name} after clipping "
            f"(at least {config.min_stars} are needed)"
        )
    residual = (delta - design @ coeffs)[keep]
    dof = max(n - design.shape[1], 1)
    chi2 = float(np.sum((residual / sigma[keep]) ** 2) / dof)
    error = float(np.sqrt(cov[0, 0] * max(chi2, 1.0)))
    scatter = float(1.4826 * np.median(np.abs(residual - np.median(residual))))
    result = ZeroPoint(
        value=float(coeffs[0]),
        error=error,
        n_stars=n,
        scatter=scatter,
        colour_term=None if colour_zero is None else float(coeffs[1]),
        colour_zero=colour_zero,
        source=catalogue.name,
    )
    log.info(
        "%s: zero point %.3f +- %.3f from %d %s stars (scatter %.3f mag)",
        label,
        result.value,
        result.error,
        n,
        catalogue.name,
        scatter,
    )
    return result
