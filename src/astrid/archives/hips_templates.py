"""A survey's image of a science frame's sky, on the frame's grid, from CDS hips2fits.

CDS's hips2fits service (Fernique et al.; https://alasky.cds.unistra.fr/hips-image-services/
hips2fits) resamples any HiPS image survey onto a WCS it is given and returns a FITS file.
Asked with the science frame's own WCS, widened by a margin on every side, it returns a
template already on the frame's pixel grid (the alignment stage still refines it against
the frame's stars). astroquery's `hips2fits` client makes the request.

- `template_request`: the survey's HiPS ID for the frame's band (`survey_band`), the
  widened WCS and the shape: everything that identifies the answer, digested for a cache.
- `fetch_template`: the request made, the answer checked (a 2-D image of the asked shape
  with finite pixels; an error page, a JSON error, a timeout or a connection failure is an
  `OnlineServiceError` naming the survey, the frame and the problem) and returned as FITS
  bytes with the keywords the reader needs (``FILTER``, ``SURVEY``, ``HIPS``, ``IMAGETYP``).

The archive's pixels keep their own units; nothing here invents a zero point or a PSF:
the pipeline models the template's PSF from its stars as for any reference, and the
zero point comes from the catalogue calibration or the science frame's header.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from astrid.archives.fits_answers import read_fits_answer
from astrid.archives.survey_bands import match_band
from astrid.errors import ConfigurationError, OnlineServiceError
from astrid.observations.image import Image

__all__ = ["SURVEYS", "TemplateRequest", "fetch_template", "survey_band", "template_request"]

#: HiPS image surveys by short name: band → CDS HiPS ID.
SURVEYS: dict[str, dict[str, str]] = {
    "ps1": {b: f"CDS/P/PanSTARRS/DR1/{b}" for b in "grizy"},
    "decaps": {b: f"CDS/P/DECaPS/DR2/{b}" for b in "grizY"},
}
#: What hips2fits is asked for besides the survey and the WCS (astroquery's defaults
#: for the cuts and stretch, which apply to JPEG/PNG only).
_FITS = {
    "format": "fits",
    "min_cut": 0.5,
    "max_cut": 99.5,
    "stretch": "linear",
    "cmap": "Greys_r",
}
#: Seconds hips2fits may take to answer.
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class TemplateRequest:
    """What is asked of hips2fits for one frame.

    Attributes
    ----------
    survey : str
        The short name (`SURVEYS`) or ``hips`` for a HiPS ID given as it is.
    hips : str
        The HiPS ID asked for.
    band : str or None
        The survey's band (None when a HiPS ID was given).
    wcs : WCS
        The science frame's celestial WCS widened by ``margin`` pixels on every side.
    shape : tuple of int
        ``(ny, nx)`` of the template.
    margin : int
    label : str
        The science frame (for messages).
    frame_filter : str or None
        The science frame's ``FILTER``, written into the template's so the pair is of one
        band for every later check (the survey's own band goes into ``SURVBAND``).
    """

    survey: str
    hips: str
    band: str | None
    wcs: WCS
    shape: tuple[int, int]
    margin: int
    label: str
    frame_filter: str | None = None

    @property
    def source(self) -> str:
        """What is asked for, for messages: the HiPS ID."""
        return self.hips

    @property
    def centre(self) -> tuple[float, float]:
        """``(ra, dec)`` in degrees of the template's centre."""
        ra, dec = self.wcs.pixel_to_world_values(
            (self.shape[1] - 1) / 2.0, (self.shape[0] - 1) / 2.0
        )
        return float(ra), float(dec)

    @property
    def digest(self) -> str:
        """SHA-256 of everything that determines the answer (a cache key)."""
        header = self.wcs.to_header(relax=True)
        text = json.dumps(
            [self.hips, list(self.shape), sorted((k, str(v)) for k, v in header.items())]
        )
        return hashlib.sha256(text.encode()).hexdigest()


def survey_band(survey: str, band: str | None) -> str:
    """The survey's band for a frame's ``FILTER`` (``r``, ``r'``, ``rp``, ``SDSS r``,
    ``r DECam SDSS c0002 6415.0 1480.0``, ``i_sdss`` ...).

    Raises
    ------
    ConfigurationError
        An unknown survey, no band, or a band the survey does not have (named).
    """
    if survey not in SURVEYS:
        raise ConfigurationError(
            f"archive survey {survey!r}: expected one of {', '.join(SURVEYS)} (or a HiPS ID)",
            survey=survey,
        )
    return match_band(survey, list(SURVEYS[survey]), band)


def template_request(
    science: Image,
    *,
    survey: str = "ps1",
    band: str | None = None,
    hips: str | None = None,
    margin: int = 32,
) -> TemplateRequest:
    """The request for ``science``'s template: ``survey`` in ``band`` (default: the frame's
    ``FILTER``), or the HiPS survey ``hips`` as it is.

    Raises
    ------
    ConfigurationError
        No celestial WCS, a negative margin, or a survey/band that cannot be mapped.
    """
    if science.wcs is None or not science.wcs.has_celestial:
        raise ConfigurationError(f"{science.label}: no celestial WCS to ask a template for")
    if margin < 0:
        raise ConfigurationError(f"template margin {margin}: must be ≥ 0", margin=margin)
    if hips:
        name, hips_id, survey_band_name = "hips", hips, None
    else:
        survey_band_name = survey_band(survey, band or science.meta.filter)
        name, hips_id = survey, SURVEYS[survey][survey_band_name]
    ny, nx = science.shape
    wcs = science.wcs.celestial.deepcopy()
    if wcs.sip is not None:  # hips2fits takes a plain FITS WCS; the alignment refines
        wcs.sip = None
        wcs.wcs.ctype = [c.replace("-SIP", "") for c in wcs.wcs.ctype]
    wcs.wcs.crpix = [wcs.wcs.crpix[0] + margin, wcs.wcs.crpix[1] + margin]
    shape = (ny + 2 * margin, nx + 2 * margin)
    wcs.pixel_shape = (shape[1], shape[0])
    return TemplateRequest(
        name, hips_id, survey_band_name, wcs, shape, margin, science.label, science.meta.filter
    )


def _ask(request: TemplateRequest, timeout: float, server: str | None) -> fits.HDUList:
    """The hips2fits answer, or `OnlineServiceError` naming what went wrong.

    astroquery builds the request; the answer is checked here before FITS parses it: an
    HTTP error with the service's JSON ``title``/``description``, or anything that is not
    a FITS file (an HTML page from a proxy), is an error, not a warning.
    """
    import requests
    from astroquery.hips2fits import hips2fitsClass

    where = f"hips2fits {request.hips} for {request.label}"
    client = hips2fitsClass()
    client.timeout = timeout
    client.server = server or client.server
    try:
        response = client.query_with_wcs_async(hips=request.hips, wcs=request.wcs, **_FITS)
    except requests.RequestException as e:
        raise OnlineServiceError(
            f"{where}: {type(e).__name__} ({e})", service="hips2fits", url=client.server
        ) from e
    body = response.content
    if response.status_code != 200:
        try:
            error = response.json()
            problem = f"{error['title']}: {error.get('description', '')}"
        except (ValueError, KeyError, TypeError):
            problem = body[:200].decode("utf-8", "replace")
        raise OnlineServiceError(
            f"{where}: HTTP {response.status_code}, {problem}", service="hips2fits"
        )
    return read_fits_answer(body, where=where, service="hips2fits")


def fetch_template(
    request: TemplateRequest, *, timeout: float = TIMEOUT_S, server: str | None = None
) -> bytes:
    """The template for ``request`` as FITS bytes (primary HDU: the image, float32, with the
    widened WCS and ``FILTER`` (the science frame's), ``SURVBAND``, ``SURVEY``, ``HIPS``,
    ``IMAGETYP = TEMPLATE``, ``TMARGIN``).

    ``server`` is the hips2fits endpoint (default: CDS's, as astroquery configures it).

    Raises
    ------
    OnlineServiceError
        hips2fits unreachable, slow, or answering with anything but a 2-D image of the
        asked shape with finite pixels (the message names the survey and the frame).
    """
    where = f"hips2fits {request.hips} for {request.label}"
    with _ask(request, timeout, server) as answer:
        hdu: Any = answer[0]
        data = None if hdu.data is None else np.asarray(hdu.data, dtype=np.float32)
    if data is None or data.shape != request.shape:
        got = None if data is None else data.shape
        raise OnlineServiceError(
            f"{where}: image of shape {got}, asked for {request.shape}", service="hips2fits"
        )
    if not np.isfinite(data).any():
        raise OnlineServiceError(
            f"{where}: no finite pixel (the survey does not cover this sky)",
            service="hips2fits",
        )
    header = request.wcs.to_header(relax=True)
    header["IMAGETYP"] = ("TEMPLATE", "archive image of the science frame's sky")
    header["SURVEY"] = (request.survey, "AstrID's name of the archive survey")
    header["HIPS"] = (request.hips, "HiPS ID, resampled by CDS hips2fits")
    if request.band:
        header["SURVBAND"] = (request.band, "the survey's band")
    if request.frame_filter or request.band:
        header["FILTER"] = (request.frame_filter or request.band, "the science frame's band")
    header["TMARGIN"] = (request.margin, "pixels added on every side of the science grid")
    buffer = io.BytesIO()
    fits.PrimaryHDU(data, header).writeto(buffer)
    return buffer.getvalue()
