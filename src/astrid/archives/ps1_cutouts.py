"""Pan-STARRS1 stack pixels of a science frame's sky, from STScI's PS1 image cutout service.

STScI documents the service (https://ps1images.stsci.edu/ps1image.html): a GET of
``ps1filenames.py?ra=..&dec=..&filters=r&type=stack`` answers a whitespace-separated table
(``projcell subcell ra dec filter mjd type filename shortname badflag``) naming the stack
image (one PS1 skycell) that holds the position; a GET of ``fitscut.cgi?ra=..&dec=..&
size=N&format=fits&red=<filename>`` answers an ``N``×``N`` FITS cutout of it, ``N`` in PS1
pixels of 0.25″, north up on the skycell's own tangent-plane grid.

Unlike hips2fits (`hips_templates`), these are the stack's own pixels: the template keeps
the survey's grid and WCS, and the pipeline's alignment stage resamples it onto the science
frame as it does any reference. To keep the template's pixels no finer than the frame's,
the cutout is summed in ``binning`` × ``binning`` blocks (by default the largest whole
number of PS1 pixels that fits in one science pixel; a sum keeps the zero point), on the
same grid (``CDELT`` × ``binning``, ``CRPIX`` moved to match); `survey_cutouts` holds what
this shares with the Legacy Survey's client (`legacy_cutouts`).

Pixel values: the full skycell stacks are stored asinh-scaled, with ``BSOFTEN`` and
``BOFFSET`` in the header; the linear flux is ``BOFFSET + BSOFTEN · 2 sinh(v / a)`` with
``a = 2.5 / ln 10`` (PS1 IPP, "asinh compression"; STScI: cutouts are normally served
linear already, so the conversion is made only when the keywords are there). A stack's
zero point is 25 + 2.5 log10(``EXPTIME``) (STScI's PS1 FAQ); it is written as ``MAGZP``,
which the header reader takes as the template's zero point.

Conventions: sky positions in degrees ICRS; sizes in PS1 pixels (0.25″) unless named.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from astrid.archives.http_answers import get_ok
from astrid.archives.survey_bands import match_band
from astrid.archives.survey_cutouts import (
    SurveyCutoutRequest,
    cutout_footprint,
    cutout_image,
    template_fits,
    template_pixels,
)
from astrid.errors import OnlineServiceError
from astrid.observations.image import Image

__all__ = [
    "MAX_SIZE",
    "PIXEL_SCALE",
    "PS1_BANDS",
    "PS1_URL",
    "SURVEY",
    "Ps1CutoutRequest",
    "fetch_ps1_cutout",
    "file_list",
    "linear_flux",
    "ps1_cutout_request",
]

logger = logging.getLogger(__name__)

#: AstrID's name of this source of templates.
SURVEY = "ps1-cutout"
#: STScI's PS1 image services.
PS1_URL = "https://ps1images.stsci.edu/cgi-bin"
#: PS1 stack pixels, arcseconds.
PIXEL_SCALE = 0.25
#: PS1's bands.
PS1_BANDS = ("g", "r", "i", "z", "y")
#: The widest cutout asked for, in PS1 pixels: a cutout comes from one skycell stack,
#: about 6000 pixels (25′) on a side, so a wider one could not be filled. Not tiled.
MAX_SIZE = 6000
#: Seconds each request may take.
TIMEOUT_S = 60.0
#: The asinh scale of PS1 stacks: 2.5 log10(e).
_ASINH_A = 2.5 / math.log(10.0)
#: The columns of the file list this needs.
_COLUMNS = ("filter", "type", "filename")


@dataclass(frozen=True)
class Ps1CutoutRequest(SurveyCutoutRequest):
    """What is asked of the PS1 cutout service for one frame (`SurveyCutoutRequest`; ``band`` is
    a PS1 band: g, r, i, z, y)."""

    survey = SURVEY

    @property
    def source(self) -> str:
        """What is asked for, for messages."""
        return f"PS1 {self.band} stack cutout"


def ps1_cutout_request(
    science: Image, *, band: str | None = None, margin: int = 32, binning: int | None = None
) -> Ps1CutoutRequest:
    """The request for ``science``'s template in ``band`` (default: the frame's ``FILTER``).

    The cutout is centred on the frame and wide enough for the frame, turned any way, plus
    ``margin`` science pixels on every side. ``binning`` defaults to the largest whole
    number of PS1 pixels in one science pixel (at least 1).

    Raises
    ------
    ConfigurationError
        No celestial WCS, a negative margin or binning below 1, a band PS1 lacks, or a frame
        wider than one cutout can be (`MAX_SIZE`).
    """
    footprint = cutout_footprint(
        science,
        survey="PS1",
        pixel_scale=PIXEL_SCALE,
        max_size=MAX_SIZE,
        margin=margin,
        binning=binning,
        limit="one cutout comes from one skycell",
        advice="use --survey ps1 (hips2fits) for this frame",
    )
    name = match_band(SURVEY, PS1_BANDS, band or science.meta.filter)
    return Ps1CutoutRequest.of(name, footprint, science, margin)


def linear_flux(data: np.ndarray, header: fits.Header) -> np.ndarray:
    """PS1 stack pixels as linear flux: ``BOFFSET + BSOFTEN · 2 sinh(v / a)`` when the
    header has ``BSOFTEN`` and ``BOFFSET`` (asinh-scaled), else ``data`` as it is."""
    if "BSOFTEN" not in header or "BOFFSET" not in header:
        return data
    soften, offset = float(header["BSOFTEN"]), float(header["BOFFSET"])
    return offset + soften * 2.0 * np.sinh(data / _ASINH_A)


def file_list(
    base_url: str,
    params: Mapping[str, str],
    *,
    columns: Sequence[str],
    timeout: float,
    where: str,
) -> list[dict[str, str]]:
    """The rows of ``ps1filenames.py``'s answer to ``params`` (``ra``, ``dec``, ``filters``,
    ``type``), each a dict by column name; ``base_url`` is the folder of ``ps1filenames.py``.

    Raises
    ------
    OnlineServiceError
        No answer, an HTTP error, or a table without all of ``columns`` (named by ``where``).
    """
    text = get_ok(
        f"{base_url}/ps1filenames.py", params, timeout=timeout, where=where, service="ps1"
    ).text
    lines = [line.split() for line in text.splitlines() if line.strip()]
    header = lines[0] if lines else []
    missing = [c for c in columns if c not in header]
    if missing:
        raise OnlineServiceError(
            f"{where}: no {', '.join(missing)} column in the answer (starts {text[:80]!r})",
            service="ps1",
        )
    return [dict(zip(header, line, strict=False)) for line in lines[1:]]


def _stack_file(request: Ps1CutoutRequest, base_url: str, timeout: float) -> dict[str, str]:
    """The file list's row for the stack that holds the frame's centre."""
    where = f"{request.source} for {request.label}: file list"
    params = {
        "ra": f"{request.ra:.7f}",
        "dec": f"{request.dec:.7f}",
        "filters": request.band,
        "type": "stack",
    }
    rows = file_list(base_url, params, columns=_COLUMNS, timeout=timeout, where=where)
    stacks = [r for r in rows if r.get("type") == "stack" and r.get("filter") == request.band]
    if not stacks:
        raise OnlineServiceError(
            f"{where}: no {request.band} stack at {request.ra:.5f}, {request.dec:.5f} "
            "(PS1 covers dec > -30°)",
            service="ps1",
        )
    return stacks[0]


def fetch_ps1_cutout(
    request: Ps1CutoutRequest, *, timeout: float = TIMEOUT_S, base_url: str | None = None
) -> bytes:
    """The template for ``request`` as FITS bytes.

    The primary HDU holds the stack's linear flux (float32), summed in ``binning`` blocks,
    on the stack's own grid with its WCS, and ``FILTER`` (the science frame's),
    ``SURVBAND``, ``SURVEY = 'ps1-cutout'``, ``PS1FILE``, ``IMAGETYP = TEMPLATE``,
    ``EXPTIME``, ``MAGZP`` (25 + 2.5 log10 EXPTIME), ``BINNING``, ``TCOVER`` (the share of
    the science frame it covers: a frame across a skycell's edge is covered in part).

    ``base_url`` is the folder of ``ps1filenames.py`` and ``fitscut.cgi`` (default: STScI's).

    Raises
    ------
    OnlineServiceError
        The service unreachable or slow, an HTTP error, no stack there (not covered), a
        file list without the documented columns, a cutout that is not a readable FITS
        image, has no celestial WCS, no finite pixel, or covers none of the frame (the
        message names the band, the frame and the problem).
    """
    base = (base_url or PS1_URL).rstrip("/")
    stack = _stack_file(request, base, timeout)
    where = f"{request.source} for {request.label}"
    params = {
        "ra": f"{request.ra:.7f}",
        "dec": f"{request.dec:.7f}",
        "size": str(request.size),
        "format": "fits",
        "red": stack["filename"],
    }
    raw, answer_header = cutout_image(
        f"{base}/fitscut.cgi", params, timeout=timeout, where=where, service="ps1"
    )
    data, wcs, cover = template_pixels(
        linear_flux(raw, answer_header),
        answer_header,
        binning=request.binning,
        frame_wcs=request.frame_wcs,
        frame_shape=request.frame_shape,
        where=where,
        service="ps1",
        what=stack["filename"],
    )
    keywords: dict[str, tuple[object, str]] = {
        "PS1FILE": (stack.get("shortname") or stack["filename"], "the PS1 stack"),
    }
    exptime = answer_header.get("EXPTIME")
    if isinstance(exptime, int | float) and exptime > 0:
        keywords["EXPTIME"] = (float(exptime), "[s] the stack's exposure time")
        zero_point = 25.0 + 2.5 * math.log10(float(exptime))
        keywords["MAGZP"] = (round(zero_point, 4), "[mag] PS1 stack: 25 + 2.5 log10(EXPTIME)")
    else:
        logger.warning("%s: no EXPTIME in the cutout; no zero point written", where)
    return template_fits(
        data,
        wcs,
        survey=SURVEY,
        source="PS1 stack through STScI's cutout service",
        band=request.band,
        frame_filter=request.frame_filter,
        binning=request.binning,
        cover=cover,
        keywords=keywords,
    )
