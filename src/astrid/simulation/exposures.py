"""The two simulated exposures as `Image` objects: pixel data, FITS header and metadata.

The reference is treated as an exposure ``config.reference_flux_scale`` times longer than the
science image (``EXPTIME`` and zero point scaled alike), taken 90 days earlier.
"""

from __future__ import annotations

import math

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from astrid.observations.image import Image, ImageMeta
from astrid.simulation.config import SCIENCE_ZERO_POINT, SimulationConfig

SCIENCE_EXPTIME = 60.0
SCIENCE_MJD = 60400.25
REFERENCE_MJD = 60310.20
FILTER = "r"


def science_image(
    data: np.ndarray, wcs: WCS, config: SimulationConfig, *, seed: int, fwhm: float | None = None
) -> Image:
    """The science exposure holding ``data`` (ADU, sky included), PSF FWHM ``fwhm`` at centre."""
    return _exposure(
        "science",
        data,
        wcs,
        config,
        exptime=SCIENCE_EXPTIME,
        mjd=SCIENCE_MJD,
        fwhm=config.science_fwhm[0] if fwhm is None else fwhm,
        sky=config.sky_science,
        zero_point=SCIENCE_ZERO_POINT,
        seed=seed,
    )


def reference_image(data: np.ndarray, wcs: WCS, config: SimulationConfig, *, seed: int) -> Image:
    """The reference exposure holding ``data`` (reference ADU, sky included)."""
    k_ref = config.reference_flux_scale
    return _exposure(
        "reference",
        data,
        wcs,
        config,
        exptime=SCIENCE_EXPTIME * k_ref,
        mjd=REFERENCE_MJD,
        fwhm=config.reference_fwhm[0],
        sky=config.sky_reference,
        zero_point=SCIENCE_ZERO_POINT + 2.5 * math.log10(k_ref),
        seed=seed,
    )


def _exposure(
    name: str,
    data: np.ndarray,
    wcs: WCS,
    config: SimulationConfig,
    *,
    exptime: float,
    mjd: float,
    fwhm: float,
    sky: float,
    zero_point: float,
    seed: int,
) -> Image:
    """A float32 image with an all-False mask, its header and metadata."""
    header = _header(
        config,
        wcs,
        name=name,
        exptime=exptime,
        mjd=mjd,
        fwhm=fwhm,
        sky=sky,
        zero_point=zero_point,
        seed=seed,
    )
    meta = ImageMeta(
        name=name,
        mjd=mjd,
        filter=FILTER,
        exptime=exptime,
        gain=config.gain,
        read_noise=config.read_noise,
        saturation=config.saturation,
        fwhm=fwhm,
        zero_point=zero_point,
    )
    return Image(
        data=data.astype(np.float32),
        mask=np.zeros(config.shape, dtype=bool),
        wcs=wcs,
        meta=meta,
        header=header,
    )


def _header(
    config: SimulationConfig,
    wcs: WCS,
    *,
    name: str,
    exptime: float,
    mjd: float,
    fwhm: float,
    sky: float,
    zero_point: float,
    seed: int,
) -> fits.Header:
    """FITS header of a simulated image."""
    header = fits.Header()
    header["OBJECT"] = (f"astrid-sim-{name}", "AstrID simulated image")
    header["IMAGETYP"] = (name, "science or reference")
    header["BUNIT"] = ("adu", "pixel units")
    header["FILTER"] = (FILTER, "band")
    header["EXPTIME"] = (exptime, "[s] exposure time")
    header["MJD-OBS"] = (mjd, "[d] MJD of mid-exposure (UTC)")
    header["GAIN"] = (config.gain, "[e-/adu]")
    header["RDNOISE"] = (config.read_noise, "[e-] read noise")
    header["SATURATE"] = (config.saturation, "[adu] saturation level")
    header["FWHM"] = (fwhm, "[pix] PSF FWHM at the image centre")
    header["SKYLEVEL"] = (sky, "[adu] sky level (not subtracted)")
    header["MAGZP"] = (zero_point, "[mag] magnitude of 1 adu")
    header["SIMSEED"] = (seed, "AstrID simulator seed")
    header.update(wcs.to_header(relax=True))
    return header
