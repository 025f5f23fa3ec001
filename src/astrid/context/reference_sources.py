"""Sources of the reference image (sep extraction), flagged extended or bright star."""

from __future__ import annotations

import numpy as np
import sep
from astropy.table import Table
from astropy.wcs import WCS

from astrid.errors import InvalidImageError
from astrid.observations.image import Image

_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def find_reference_sources(
    image: np.ndarray,
    wcs: WCS,
    *,
    psf_fwhm_px: float,
    background_rms: float,
    mask: np.ndarray | None = None,
    threshold: float = 3.0,
    saturation: float | None = None,
    min_area: int = 5,
    extended_factor: float = 1.5,
) -> Table:
    """Extract sources from a background-subtracted reference image.

    Parameters
    ----------
    image : numpy.ndarray
        2-D background-subtracted reference image.
    wcs : astropy.wcs.WCS
        Celestial WCS of ``image``.
    psf_fwhm_px : float
        PSF full width at half maximum in pixels.
    background_rms : float
        Background noise (same units as ``image``).
    mask : numpy.ndarray, optional
        Boolean mask, True where pixels are bad.
    threshold : float
        Detection threshold in units of ``background_rms``.
    saturation : float, optional
        Saturation level; point sources peaking above half of it are bright stars.
    min_area : int
        Minimum connected pixels.
    extended_factor : float
        A source is extended when ``a * b > extended_factor * sigma_psf**2`` and it is
        less concentrated than the stars (`_diffuse`).

    Returns
    -------
    astropy.table.Table
        Columns x, y, ra, dec, a, b, theta, a_arcsec, b_arcsec, pa_deg, flux, peak,
        extended, bright_star.

    Raises
    ------
    InvalidImageError
        If the image is not 2-D or the PSF/noise values are not positive and finite.
    """
    data = np.asarray(image, dtype=np.float64)
    if data.ndim != 2:
        raise InvalidImageError(f"reference image: expected 2-D array, got shape {data.shape}")
    if not np.isfinite(psf_fwhm_px) or psf_fwhm_px <= 0:
        raise InvalidImageError(f"psf_fwhm_px must be positive and finite, got {psf_fwhm_px}")
    if not np.isfinite(background_rms) or background_rms <= 0:
        raise InvalidImageError(f"background_rms must be positive and finite, got {background_rms}")
    bad = ~np.isfinite(data)
    if mask is not None:
        bad |= np.asarray(mask, dtype=bool)
    data = np.where(bad, 0.0, data)
    sep.set_extract_pixstack(max(300000, data.size))
    objs = sep.extract(
        np.ascontiguousarray(data),
        threshold,
        err=float(background_rms),
        mask=bad if bad.any() else None,
        minarea=min_area,
        deblend_cont=0.005,
    )
    x = np.asarray(objs["x"], dtype=float)
    y = np.asarray(objs["y"], dtype=float)
    a = np.asarray(objs["a"], dtype=float)
    b = np.asarray(objs["b"], dtype=float)
    theta = np.asarray(objs["theta"], dtype=float)
    sky = wcs.pixel_to_world(x, y)
    ra = np.atleast_1d(sky.ra.deg)
    dec = np.atleast_1d(sky.dec.deg)
    # Position angle and scale: map the major-axis unit vector through the WCS Jacobian.
    a_as, b_as, pa = _axes_on_sky(wcs, x, y, a, b, theta)
    sigma2 = (psf_fwhm_px * _FWHM_TO_SIGMA) ** 2
    extended = (a * b > extended_factor * sigma2) & _diffuse(
        data, x, y, psf_fwhm_px, background_rms, bad
    )
    peak = np.asarray(objs["peak"], dtype=float)
    flux = np.asarray(objs["flux"], dtype=float)
    bright = ~extended
    if saturation is not None:
        bright &= peak > 0.5 * saturation
    else:
        bright &= peak > 1000.0 * background_rms
    return Table(
        {
            "x": x,
            "y": y,
            "ra": ra,
            "dec": dec,
            "a": a,
            "b": b,
            "theta": theta,
            "a_arcsec": a_as,
            "b_arcsec": b_as,
            "pa_deg": pa,
            "flux": flux,
            "peak": peak,
            "extended": extended,
            "bright_star": bright,
        }
    )


def _diffuse(
    data: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    fwhm: float,
    rms: float,
    bad: np.ndarray,
    *,
    margin: float = 0.2,
) -> np.ndarray:
    """Sources less concentrated than point sources: the concentration index test.

    Concentration c = flux within 1 FWHM / flux within 3 FWHM (sep circular apertures). A
    point source has c ≈ 0.94 for a Gaussian PSF and ≈ 0.77 for a Moffat (β = 3) one; a
    source is diffuse when c is below the Gaussian value by more than ``margin`` plus twice
    its own error. Isophotal moments alone call every bright star extended (its wings lift
    a·b above the PSF's σ²); this test does not need any star in the field.
    """
    if x.size == 0:
        return np.zeros(0, dtype=bool)
    inner, inner_err, _ = sep.sum_circle(data, x, y, fwhm, err=rms, mask=bad)
    outer, outer_err, _ = sep.sum_circle(data, x, y, 3 * fwhm, err=rms, mask=bad)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = inner / outer
        c_err = np.abs(c) * np.hypot(inner_err / inner, outer_err / outer)
    # a Gaussian PSF of this FWHM puts 1 - exp(-4 ln 2) = 0.9375 of its flux inside 1 FWHM
    # and all of it inside 3; real PSFs have wings (Moffat β = 3: 0.77), hence the margin
    stellar = 1.0 - np.exp(-4.0 * np.log(2.0))
    return np.asarray(np.isfinite(c) & (c < stellar - margin - 2 * c_err))


def _axes_on_sky(
    wcs: WCS, x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convert pixel ellipse axes to arcsec and a position angle east of north."""
    if x.size == 0:
        empty = np.zeros(0)
        return empty, empty, empty
    dx, dy = np.cos(theta), np.sin(theta)
    c0 = wcs.pixel_to_world(x, y)
    c1 = wcs.pixel_to_world(x + dx, y + dy)
    pa = np.atleast_1d(c0.position_angle(c1).deg) % 180.0
    scale = np.atleast_1d(c0.separation(c1).arcsec)
    c2 = wcs.pixel_to_world(x - dy, y + dx)
    scale_b = np.atleast_1d(c0.separation(c2).arcsec)
    return a * scale, b * scale_b, pa


def sources_of_image(image: Image, *, threshold: float = 3.0) -> Table:
    """`find_reference_sources` on a raw reference `Image`: background, noise and PSF here.

    The background and its noise come from sep's mesh background; the PSF FWHM from the
    header when it gives one (``image.meta.fwhm``), else from the compact, well-measured
    sources (the lower quartile of 2.355·√(a·b) among the 5 % brightest unflagged ones,
    which are stars in any field with stars).

    Raises
    ------
    InvalidImageError
        If the image has no celestial WCS, or no noise or sources to measure the PSF from.
    """
    if image.wcs is None or not image.wcs.has_celestial:
        raise InvalidImageError(f"{image.meta.name}: no celestial WCS to place sources on")
    data = np.where(image.mask, 0.0, np.asarray(image.data, dtype=np.float64))
    data = np.ascontiguousarray(np.nan_to_num(data))
    mask = image.mask | ~np.isfinite(image.data)
    background = sep.Background(data, mask=mask)
    subtracted = data - background.back()
    rms = float(background.globalrms)
    if not np.isfinite(rms) or rms <= 0:
        raise InvalidImageError(f"{image.meta.name}: the background noise is not positive")
    fwhm = image.meta.fwhm
    if fwhm is None or not np.isfinite(fwhm) or fwhm <= 0:
        fwhm = _psf_fwhm(subtracted, rms, mask, image.meta.name)
    saturation = image.meta.saturation
    return find_reference_sources(
        subtracted,
        image.wcs.celestial,
        psf_fwhm_px=float(fwhm),
        background_rms=rms,
        mask=mask,
        threshold=threshold,
        saturation=float(saturation) if np.isfinite(saturation) else None,
    )


def _psf_fwhm(data: np.ndarray, rms: float, mask: np.ndarray, name: str) -> float:
    sep.set_extract_pixstack(max(300000, data.size))
    objs = sep.extract(data, 10.0, err=rms, mask=mask, minarea=5)
    good = objs[(objs["flag"] == 0) & (objs["b"] > 0)]
    if len(good) < 3:
        raise InvalidImageError(f"{name}: fewer than 3 clean sources to measure the PSF from")
    bright = good[good["flux"] >= np.quantile(good["flux"], 0.95)] if len(good) >= 60 else good
    widths = 2.0 * np.sqrt(2.0 * np.log(2.0)) * np.sqrt(bright["a"] * bright["b"])
    return float(np.quantile(widths, 0.25))
