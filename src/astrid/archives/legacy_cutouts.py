"""Legacy Survey DR10 pixels of a science frame's sky, from the Legacy Survey viewer's
FITS cutout service.

A GET of ``https://www.legacysurvey.org/viewer/fits-cutout?ra=..&dec=..&layer=ls-dr10&
pixscale=..&size=N&bands=r`` answers an ``N``×``N`` FITS image of one band, resampled from
the survey's coadds onto a tangent plane centred on (ra, dec), north up, east left, with
pixels of ``pixscale`` arcseconds. What this relies on, and where it comes from:

- Units: "if you set the pixscale=0.262, then you will get images in the same units as our
  data release coadd image products, which are in nanomaggy units, ie, fluxes with a
  zeropoint of 22.5 mag in the AB system" (the viewer's tips page,
  https://www.legacysurvey.org/svtips/). So the cutout is always asked at the native
  0.262″ and its zero point is 22.5; at any other pixscale the units are not documented.
- Bands: DR10 has g, r, i and z (i for the first time; https://www.legacysurvey.org/dr10/
  description/); the i band comes from the DECam ("south") part of the footprint only.
- Size: the viewer's own code (legacysurvey/imagine, ``map/views.py``, ``get_cutout``)
  caps ``size`` at 3000 pixels and silently answers a smaller image for a larger request
  (users report the same: kmhess/SoFiA-image-pipeline issue 76); the public pages found
  do not state the limit. An answer of another shape is therefore an error here, and a
  frame that needs more than 3000 pixels (13.1′) is refused: not tiled.
- Grid and empty sky: the same code writes a TAN WCS (``CRPIX`` at the centre, ``CD1_1 =
  -pixscale``, ``CD2_2 = +pixscale``) and renders into an image that starts at zero, so a
  pixel no coadd covers is exactly 0 (read from the code, not seen in a live answer); such
  pixels are masked (NaN) here.

As for PS1's cutouts (`ps1_cutouts`), the template keeps the survey's grid and WCS (the
alignment stage resamples it onto the frame) and is summed in ``binning`` × ``binning``
blocks so its pixels are no finer than the frame's; a sum keeps the zero point, written as
``MAGZP = 22.5``, which AstrID's header reader takes as the template's zero point. The
pixel scale reaches the template through its WCS (``0.262″ × binning``). No PSF or seeing
is given by the cutout service: the pipeline measures the template's PSF from its stars.

Conventions: sky positions in degrees ICRS; sizes in Legacy Survey pixels (0.262″) unless
named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from astrid.archives.survey_bands import match_band
from astrid.archives.survey_cutouts import (
    SurveyCutoutRequest,
    cutout_footprint,
    cutout_image,
    pixel_scale_arcsec,
    template_fits,
    template_pixels,
)
from astrid.errors import OnlineServiceError
from astrid.observations.image import Image

__all__ = [
    "LEGACY_BANDS",
    "LEGACY_CUTOUT",
    "LEGACY_LAYER",
    "LEGACY_MAX_SIZE",
    "LEGACY_PIXEL_SCALE",
    "LEGACY_URL",
    "LEGACY_ZERO_POINT",
    "LegacyCutoutRequest",
    "fetch_legacy_cutout",
    "legacy_cutout_request",
]

#: AstrID's name of this source of templates.
LEGACY_CUTOUT = "legacy-cutout"
#: The Legacy Survey viewer (its ``fits-cutout`` is below it).
LEGACY_URL = "https://www.legacysurvey.org/viewer"
#: The viewer's layer: Legacy Survey DR10 images.
LEGACY_LAYER = "ls-dr10"
#: The coadds' pixel, arcseconds; the only pixscale whose units are documented.
LEGACY_PIXEL_SCALE = 0.262
#: DR10's bands.
LEGACY_BANDS = ("g", "r", "i", "z")
#: AB magnitude of 1 nanomaggy, the unit of the pixels at `LEGACY_PIXEL_SCALE`.
LEGACY_ZERO_POINT = 22.5
#: The widest cutout the viewer gives, in pixels (its code; a wider one is cut down).
LEGACY_MAX_SIZE = 3000
#: Seconds each request may take.
TIMEOUT_S = 60.0
#: The service's short name, for errors.
_SERVICE = "legacysurvey"


@dataclass(frozen=True)
class LegacyCutoutRequest(SurveyCutoutRequest):
    """What is asked of the Legacy Survey viewer for one frame (`SurveyCutoutRequest`; ``band`` is
    a DR10 band: g, r, i, z)."""

    survey = LEGACY_CUTOUT

    @property
    def source(self) -> str:
        """What is asked for, for messages."""
        return f"Legacy Survey {LEGACY_LAYER} {self.band} cutout"

    def _service_terms(self) -> list[object]:
        return [LEGACY_LAYER, LEGACY_PIXEL_SCALE]


def legacy_cutout_request(
    science: Image, *, band: str | None = None, margin: int = 32, binning: int | None = None
) -> LegacyCutoutRequest:
    """The request for ``science``'s template in ``band`` (default: the frame's ``FILTER``).

    The cutout is centred on the frame and wide enough for the frame, turned any way, plus
    ``margin`` science pixels on every side. ``binning`` defaults to the largest whole
    number of 0.262″ pixels in one science pixel (at least 1).

    Raises
    ------
    ConfigurationError
        No celestial WCS, a negative margin or binning below 1, a band DR10 lacks (u, y,
        ...: the message names it and lists g, r, i, z), or a frame wider than one cutout
        can be (`LEGACY_MAX_SIZE`; the message names the size and the limit).
    """
    footprint = cutout_footprint(
        science,
        survey="Legacy Survey",
        pixel_scale=LEGACY_PIXEL_SCALE,
        max_size=LEGACY_MAX_SIZE,
        margin=margin,
        binning=binning,
        limit="the viewer cuts",
        advice="not tiled; use a HiPS survey (--hips) for this frame",
    )
    name = match_band(LEGACY_CUTOUT, LEGACY_BANDS, band or science.meta.filter)
    return LegacyCutoutRequest.of(name, footprint, science, margin)


def fetch_legacy_cutout(
    request: LegacyCutoutRequest, *, timeout: float = TIMEOUT_S, base_url: str | None = None
) -> bytes:
    """The template for ``request`` as FITS bytes.

    The primary HDU holds the cutout in nanomaggies (float32), pixels no coadd covers
    masked (NaN), summed in ``binning`` blocks, on the cutout's own grid with its WCS, and
    ``FILTER`` (the science frame's), ``SURVBAND``, ``SURVEY = 'legacy-cutout'``,
    ``LSLAYER``, ``IMAGETYP = TEMPLATE``, ``MAGZP = 22.5``, ``BINNING``, ``TCOVER`` (the
    share of the science frame it covers).

    ``base_url`` is the folder of ``fits-cutout`` (default: the Legacy Survey viewer's).

    Raises
    ------
    OnlineServiceError
        The service unreachable or slow, an HTTP error, an answer that is not a readable
        FITS image (an HTML page), not one 2-D image of the asked size, without a celestial
        WCS, on pixels other than 0.262″, or covering none of the frame (the message names
        the survey, the band, the frame and the problem).
    """
    base = (base_url or LEGACY_URL).rstrip("/")
    where = f"{request.source} for {request.label}"
    params = {
        "ra": f"{request.ra:.7f}",
        "dec": f"{request.dec:.7f}",
        "layer": LEGACY_LAYER,
        "pixscale": f"{LEGACY_PIXEL_SCALE}",
        "size": str(request.size),
        "bands": request.band,
    }
    raw, answer_header = cutout_image(
        f"{base}/fits-cutout", params, timeout=timeout, where=where, service=_SERVICE
    )
    if raw.shape != (request.size, request.size):
        raise OnlineServiceError(
            f"{where}: image of shape {raw.shape}, asked for {request.size}×{request.size} "
            f"(the viewer cuts at most {LEGACY_MAX_SIZE} pixels)",
            service=_SERVICE,
        )
    data, wcs, cover = template_pixels(
        np.where(raw == 0.0, np.nan, raw),  # no coadd there: the viewer leaves 0
        answer_header,
        binning=request.binning,
        frame_wcs=request.frame_wcs,
        frame_shape=request.frame_shape,
        where=where,
        service=_SERVICE,
        what=f"layer {LEGACY_LAYER}",
    )
    scale = pixel_scale_arcsec(wcs) / request.binning
    if not np.isclose(scale, LEGACY_PIXEL_SCALE, rtol=1e-3):
        raise OnlineServiceError(
            f"{where}: pixels of {scale:.4f}″, asked for {LEGACY_PIXEL_SCALE}″ (the only scale "
            "documented in nanomaggies)",
            service=_SERVICE,
        )
    return template_fits(
        data,
        wcs,
        survey=LEGACY_CUTOUT,
        source="Legacy Survey DR10, the viewer's fits-cutout",
        band=request.band,
        frame_filter=request.frame_filter,
        binning=request.binning,
        cover=cover,
        keywords={
            "LSLAYER": (LEGACY_LAYER, "the Legacy Survey viewer's layer"),
            "MAGZP": (LEGACY_ZERO_POINT, "[mag] AB of 1 nanomaggy (Legacy Survey svtips)"),
        },
    )
