"""A deeper SkyMapper DR4 template: the proper coadd of several exposures' cutouts.

SkyMapper's images are single exposures (100 s in the Main Survey), so one makes a shallow
template. When the SIAP lists more than one usable exposure of the band covering the
cutout (`skymapper_cutouts.stack_choice`), `skymapper_cutouts.fetch_skymapper_cutout` fetches up to
`SKYMAPPER_STACK_MAX` of them and this module stacks them with AstrID's own coadd
(`astrid.difference.stack.stack_frames`, ``method="proper"``: Zackay & Ofek 2017): every
cutout aligned onto the first (best) one's CCD grid, its flux scale, PSF and noise
measured, what is in one input only rejected (three inputs or more).

The rule (`skymapper_cutouts.stack_choice`): the exposures ordered as the single choice
orders them (the deepest, then the sharpest, then by ``image_id``); kept are those with at
least half the best's exposure time (the Shallow Survey's 5 s exposures add almost no
depth to 100 s ones and hold too few stars to measure their flux scale) and a known
``mean_fwhm`` at most `SKYMAPPER_SEEING_CUT` (1.5) times the best's (a blurred exposure
adds depth only at its own, coarser, resolution); at most `SKYMAPPER_STACK_MAX` (5) of
them. A best exposure without a known seeing is used alone.

The stack is background-subtracted (the single exposure's template keeps its sky), in the
first exposure's ADU; its keywords (`stack_keywords`): ``MAGZP`` the stack's zero point
(the inputs' ``zp_j − 2.5 log10 F_j``, their median, in the first exposure's units: its own
``ZPAPPROX`` when the flux scales are right), ``SEEING``/``FWHM`` from the stack's PSF,
``SATURATE`` the stack's (the highest level any input records unsaturated), ``MJD-OBS``
the LATEST input's (so `astrid run` sees when the newest pixels of the template were taken:
a transient in the frame after that date is not in it), ``EXPTIME`` the first's (the
units' reference), ``SMNEXP`` the count of stacked exposures, ``SMIMG1`` ... ``SMIMGn``
their images (``SMIMAGE``, the first, as for one exposure).
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from astrid.archives.survey_cutouts import pixel_scale_arcsec
from astrid.difference.stack import Stack, StackConfig, stack_frames
from astrid.errors import AstridError
from astrid.observations.fits_reader import read_image
from astrid.observations.image import Image

__all__ = [
    "SKYMAPPER_DEPTH_CUT",
    "SKYMAPPER_SEEING_CUT",
    "SKYMAPPER_STACK_MAX",
    "ExposureCutout",
    "stack_cutouts",
    "stack_keywords",
]

logger = logging.getLogger(__name__)

#: The most exposures stacked into one template.
SKYMAPPER_STACK_MAX = 5
#: An exposure joins the stack only when its ``mean_fwhm`` is at most this many times the
#: best's.
SKYMAPPER_SEEING_CUT = 1.5
#: An exposure joins the stack only with at least this share of the best's exposure time.
SKYMAPPER_DEPTH_CUT = 0.5


@dataclass(frozen=True)
class ExposureCutout:
    """One fetched cutout: its image id, pixels (ADU), answer header, MJD and zero point."""

    image_id: str
    data: np.ndarray
    header: fits.Header
    mjd: float | None
    zero_point: float | None


def _as_image(cutout: ExposureCutout) -> Image:
    """A cutout as AstrID reads a frame: its header with ``MAGZP`` (its zero point)."""
    header = cutout.header.copy()
    if cutout.zero_point is not None:
        header["MAGZP"] = cutout.zero_point
    if cutout.mjd is not None:
        header["MJD-OBS"] = cutout.mjd
    buffer = io.BytesIO()
    fits.PrimaryHDU(np.asarray(cutout.data, dtype=np.float32), header).writeto(buffer)
    buffer.seek(0)
    return read_image(buffer, name=cutout.image_id, label=f"SkyMapper image {cutout.image_id}")


def stack_cutouts(cutouts: Sequence[ExposureCutout], *, where: str) -> Stack | None:
    """The proper coadd of ``cutouts`` on the first's grid; None (with a warning naming the
    reason) when `stack_frames` refuses them (too little overlap, too few stars, ...)."""
    try:
        images = [_as_image(c) for c in cutouts]
        return stack_frames(images, StackConfig(method="proper"))
    except AstridError as e:
        logger.warning(
            "%s: the %d exposures could not be stacked (%s); the best one alone is used",
            where,
            len(cutouts),
            e,
        )
        return None


def stack_keywords(
    stack: Stack, cutouts: Sequence[ExposureCutout], wcs: WCS, binning: int, exptime: float | None
) -> dict[str, tuple[object, str]]:
    """The stacked template's keywords (module notes); ``wcs`` is the template's (binned)
    grid, ``exptime`` the first exposure's."""
    ids = [c.image_id for c in cutouts]
    keywords: dict[str, tuple[object, str]] = {
        "SMIMAGE": (ids[0], "SkyMapper DR4 image of the grid (exposure-CCD)"),
        "SMNEXP": (len(ids), "SkyMapper exposures proper-coadded (AstrID)"),
    }
    for k, image_id in enumerate(ids, start=1):
        keywords[f"SMIMG{k}"] = (image_id, f"SkyMapper DR4 image {k} of the stack")
    mjds = [c.mjd for c in cutouts if c.mjd is not None]
    if mjds:
        keywords["MJD-OBS"] = (max(mjds), "[d] the latest stacked image's mjd_obs")
    if exptime is not None:
        keywords["EXPTIME"] = (exptime, "[s] the first image's exposure (the units')")
    fwhm = stack.fwhm_px / binning  # the stack's pixels are the first cutout's, unbinned
    if math.isfinite(fwhm) and fwhm > 0:
        seeing = fwhm * pixel_scale_arcsec(wcs)
        keywords["SEEING"] = (round(seeing, 4), "[arcsec] FWHM of the stack's PSF")
        keywords["FWHM"] = (round(fwhm, 4), "[pix] the stack's PSF in this template's pixels")
    if math.isfinite(stack.saturation) and stack.saturation > 0:
        keywords["SATURATE"] = (stack.saturation, "[adu] the stack's saturation level")
    if stack.zero_point is not None:
        keywords["MAGZP"] = (stack.zero_point, "[mag] AB: the stack's, from the ZPAPPROX")
    else:
        logger.warning("no zero point for the stack of %s", ", ".join(ids))
    return keywords
