"""SkyMapper DR4 pixels of a science frame's sky, from SkyMapper's Simple Image Access
(SIAP) service.

SkyMapper's "How to Access" page (https://skymapper.anu.edu.au/how-to-access/) describes
the DR4 image service: a GET of ``query?POS=ra,dec&SIZE=<deg>&BAND=r&FORMAT=image/fits&
INTERSECT=covers&RESPONSEFORMAT=VOTABLE`` answers a VOTable listing the images (one row per
CCD of one exposure) that cover the square of ``SIZE`` degrees around the position; a GET
of ``get_image?IMAGE=<id>&SIZE=<deg>&POS=ra,dec&FORMAT=fits`` answers a FITS cutout of one
of them. What this relies on, and where it comes from (the DR4 release page,
https://skymapper.anu.edu.au/data-release/dr4/, and paper, Onken et al. 2024, PASA,
arXiv:2402.02015):

- Images: single exposures, not stacks: all the telescope's good images of 2014-03 to
  2021-09 (the Main Survey's 100 s, the Shallow Survey's 5 s and other programmes'),
  reduced with "overscan, bias, flatfield correction and a World Coordinate System (TPV
  projection)" (the release page): no sky subtraction is listed, so the pixels are taken
  as ADU with the sky in them, and kept as they come (the pipeline models the template's
  background as for any reference). The chosen image is the one in the band with the
  longest ``exptime`` and, among those, the smallest ``mean_fwhm`` (arcseconds), read
  from the row's ``unique_image_id``, ``band``, ``exptime``, ``mean_fwhm``, ``mjd_obs``
  and ``zpapprox`` (the column names users of the DR4 service report; the pages found do
  not list them).
- Zero point: ``ZPAPPROX`` in the cutout's header (an approximate AB zero point for the
  exposure's counts), else the row's ``zpapprox``, written as ``MAGZP``. It is approximate
  by name; how close it is to the DR4 catalogue's calibration is not documented here.
- Grid: the CCD's own pixels, about 0.5″ (0.497″ as users read it off the headers), in
  the CCD's orientation (not north up), with the image's TPV WCS (``RA---TPV`` with ``PV``
  terms, ``CRPIX`` the CCD's, often outside the cutout). The template keeps that grid and
  WCS, summed in ``binning`` × ``binning`` blocks (`survey_cutouts`), as for PS1
  (`ps1_cutouts`) and the Legacy Survey (`legacy_cutouts`).
- Size: cutouts are less than 10′ on a side (the page; users report the service refuses
  more than 0.17°), from one CCD (a full CCD is not served). A frame that needs more than
  10′ is refused: not tiled. The query asks for images that cover the whole cutout
  (``INTERSECT=covers``), so a cutout across a CCD's edge finds none.
- Coverage: the southern sky, to dec +16° in all six bands and +28° in places (the DR4
  paper); a position without an image in the band is an error naming it.
- Seeing: the chosen row's ``mean_fwhm`` is written as ``SEEING`` (arcseconds) and as
  ``FWHM`` in the template's pixels, which AstrID's header reader takes.
- Saturation: a single exposure saturates on bright stars; the header's ``SATURATE``, when
  there (users report one), is kept, so the pipeline masks those stars. Summed in blocks, a
  block holding a saturated pixel sums to at least that level: the mask stays safe (and
  takes in a few bright blocks that were not saturated).
- Depth: when the SIAP lists more than one usable exposure (`stack_choice`: at least half
  the best's exposure time, a seeing at most 1.5× the best's, at most
  `SKYMAPPER_STACK_MAX`), their cutouts are proper-coadded onto the best one's grid
  (`skymapper_stacks`: the keywords it writes, ``MJD-OBS`` the latest input's); an extra
  cutout that fails is left out with a warning, a stack AstrID refuses falls back to the
  best exposure alone.

Conventions: sky positions in degrees ICRS; sizes in SkyMapper pixels (0.497″) unless
named.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.io.votable import parse
from astropy.wcs import WCS

from astrid.archives.http_answers import get_ok
from astrid.archives.skymapper_stacks import (
    SKYMAPPER_DEPTH_CUT,
    SKYMAPPER_SEEING_CUT,
    SKYMAPPER_STACK_MAX,
    ExposureCutout,
    stack_cutouts,
    stack_keywords,
)
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
    "SKYMAPPER_BANDS",
    "SKYMAPPER_CUTOUT",
    "SKYMAPPER_MAX_SIZE",
    "SKYMAPPER_PIXEL_SCALE",
    "SKYMAPPER_RELEASE",
    "SKYMAPPER_STACK_MAX",
    "SKYMAPPER_URL",
    "SkyMapperCutoutRequest",
    "SkyMapperImage",
    "best_image",
    "fetch_skymapper_cutout",
    "siap_images",
    "skymapper_cutout_request",
    "stack_choice",
]

logger = logging.getLogger(__name__)

#: AstrID's name of this source of templates.
SKYMAPPER_CUTOUT = "skymapper-cutout"
#: SkyMapper's public DR4 SIAP (``query`` and ``get_image`` are below it).
SKYMAPPER_URL = "https://api.skymapper.nci.org.au/public/siap/dr4"
#: The data release asked.
SKYMAPPER_RELEASE = "dr4"
#: The CCDs' pixel, arcseconds (about 0.5″; 0.497″ as read off image headers by users).
SKYMAPPER_PIXEL_SCALE = 0.497
#: SkyMapper's bands (``v`` is violet, about 384 nm: not Johnson ``V``).
SKYMAPPER_BANDS = ("u", "v", "g", "r", "i", "z")
#: The widest cutout asked for, in pixels: less than 10′ (SkyMapper's access page).
SKYMAPPER_MAX_SIZE = math.floor(600.0 / SKYMAPPER_PIXEL_SCALE)
#: Seconds each request may take.
TIMEOUT_S = 60.0
#: The service's short name, for errors.
_SERVICE = "skymapper"
#: The columns of the SIAP answer a choice needs.
_COLUMNS = ("unique_image_id", "band", "exptime", "mean_fwhm")


@dataclass(frozen=True)
class SkyMapperCutoutRequest(SurveyCutoutRequest):
    """What is asked of SkyMapper's SIAP for one frame (`SurveyCutoutRequest`; ``band`` is a
    SkyMapper band: u, v, g, r, i, z)."""

    survey = SKYMAPPER_CUTOUT

    @property
    def source(self) -> str:
        """What is asked for, for messages."""
        return f"SkyMapper {SKYMAPPER_RELEASE.upper()} {self.band} cutout"

    @property
    def size_deg(self) -> float:
        """Side of the cutout, degrees (the services' ``SIZE``)."""
        return self.size * SKYMAPPER_PIXEL_SCALE / 3600.0

    def _service_terms(self) -> list[object]:
        return [
            SKYMAPPER_RELEASE,
            SKYMAPPER_PIXEL_SCALE,
            ["stack", SKYMAPPER_STACK_MAX, SKYMAPPER_SEEING_CUT, SKYMAPPER_DEPTH_CUT],
        ]


@dataclass(frozen=True)
class SkyMapperImage:
    """One row of the SIAP answer: one CCD of one exposure.

    Attributes
    ----------
    image_id : str
        ``unique_image_id`` (exposure and CCD), the ``IMAGE`` of ``get_image``.
    band : str
        Its band.
    mjd : float or None
        ``mjd_obs``.
    exptime : float or None
        Seconds.
    fwhm : float or None
        ``mean_fwhm``, arcseconds.
    zero_point : float or None
        ``zpapprox``, AB magnitude.
    """

    image_id: str
    band: str
    mjd: float | None
    exptime: float | None
    fwhm: float | None
    zero_point: float | None


def skymapper_cutout_request(
    science: Image, *, band: str | None = None, margin: int = 32, binning: int | None = None
) -> SkyMapperCutoutRequest:
    """The request for ``science``'s template in ``band`` (default: the frame's ``FILTER``).

    The cutout is centred on the frame and wide enough for the frame, turned any way, plus
    ``margin`` science pixels on every side. ``binning`` defaults to the largest whole
    number of 0.497″ pixels in one science pixel (at least 1).

    Raises
    ------
    ConfigurationError
        No celestial WCS, a negative margin or binning below 1, a band SkyMapper lacks (y,
        Johnson V, ...: the message names it and lists u, v, g, r, i, z), or a frame wider
        than one cutout can be (`SKYMAPPER_MAX_SIZE`; the message names the size and the
        limit).
    """
    footprint = cutout_footprint(
        science,
        survey="SkyMapper",
        pixel_scale=SKYMAPPER_PIXEL_SCALE,
        max_size=SKYMAPPER_MAX_SIZE,
        margin=margin,
        binning=binning,
        limit="the SIAP cuts less than 10′ of one CCD",
        advice="not tiled; use a HiPS survey (--hips) for this frame",
    )
    name = match_band(SKYMAPPER_CUTOUT, SKYMAPPER_BANDS, band or science.meta.filter, exact=("v",))
    return SkyMapperCutoutRequest.of(name, footprint, science, margin)


def siap_images(body: bytes, *, where: str) -> list[SkyMapperImage]:
    """The images a SIAP answer (a VOTable) lists.

    Raises
    ------
    OnlineServiceError
        An answer that is not a VOTable (an HTML page), a ``QUERY_STATUS`` of ``ERROR``
        (the message is the service's), no table, or a table without the columns of
        `_COLUMNS` (the message names ``where`` and the problem).
    """
    try:
        votable = parse(io.BytesIO(body), verify="ignore")  # UCD1 words are not errors
    except ValueError as e:
        raise OnlineServiceError(
            f"{where}: the answer is not a VOTable ({e}; starts {body[:40]!r})",
            service=_SERVICE,
        ) from e
    for info in [*votable.infos, *(i for r in votable.resources for i in r.infos)]:
        if info.name == "QUERY_STATUS" and str(info.value).upper() == "ERROR":
            raise OnlineServiceError(
                f"{where}: the service answered an error: {info.content or '(no text)'}",
                service=_SERVICE,
            )
    tables = list(votable.iter_tables())
    if not tables:
        raise OnlineServiceError(f"{where}: the answer holds no table", service=_SERVICE)
    table = tables[0].to_table(use_names_over_ids=True)
    missing = [c for c in _COLUMNS if c not in table.colnames]
    if missing:
        raise OnlineServiceError(
            f"{where}: no {', '.join(missing)} column in the answer", service=_SERVICE
        )

    def numbers(column: str) -> list[float | None]:
        if column not in table.colnames:
            return [None] * len(table)
        return [_number(value) for value in table[column]]

    rows = zip(
        table["unique_image_id"],
        table["band"],
        numbers("mjd_obs"),
        numbers("exptime"),
        numbers("mean_fwhm"),
        numbers("zpapprox"),
        strict=True,
    )
    return [
        SkyMapperImage(_text(image_id), _text(band), mjd, exptime, fwhm, zero_point)
        for image_id, band, mjd, exptime, fwhm, zero_point in rows
    ]


def _number(value: object) -> float | None:
    """A cell as a finite number, else None (masked, empty, not a number)."""
    if value is np.ma.masked or not isinstance(value, int | float | np.number | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _text(value: object) -> str:
    """A cell as text ("" when masked)."""
    return "" if value is np.ma.masked else str(value).strip()


def _ordered(images: Sequence[SkyMapperImage], band: str) -> list[SkyMapperImage]:
    """The ``images`` in ``band`` with an exposure time, the deepest (longest ``exptime``)
    first and among equals the sharpest (smallest ``mean_fwhm``; none known last); ties by
    ``image_id``."""
    usable = [i for i in images if i.band == band and i.exptime is not None and i.image_id]
    return sorted(
        usable,
        key=lambda i: (-(i.exptime or 0.0), math.inf if i.fwhm is None else i.fwhm, i.image_id),
    )


def best_image(images: Sequence[SkyMapperImage], band: str) -> SkyMapperImage | None:
    """Of the ``images`` in ``band`` with an exposure time, the deepest (longest
    ``exptime``) and of those the sharpest (smallest ``mean_fwhm``; none known last);
    ties by ``image_id``. None when there is none."""
    ordered = _ordered(images, band)
    return ordered[0] if ordered else None


def stack_choice(images: Sequence[SkyMapperImage], band: str) -> list[SkyMapperImage]:
    """The images of ``band`` to stack, best (`best_image`) first: those with at least
    `SKYMAPPER_DEPTH_CUT` (half) of the best's exposure time and a known ``mean_fwhm`` at
    most `SKYMAPPER_SEEING_CUT` (1.5) times the best's, in `best_image`'s order, at most
    `SKYMAPPER_STACK_MAX`. The best alone when its seeing is unknown; empty when there is
    no image of the band."""
    ordered = _ordered(images, band)
    if not ordered:
        return []
    best = ordered[0]
    if best.fwhm is None or best.exptime is None:
        return [best]
    chosen = [best]
    for row in ordered[1:]:
        deep = row.exptime is not None and row.exptime >= SKYMAPPER_DEPTH_CUT * best.exptime
        sharp = row.fwhm is not None and row.fwhm <= SKYMAPPER_SEEING_CUT * best.fwhm
        if deep and sharp and len(chosen) < SKYMAPPER_STACK_MAX:
            chosen.append(row)
    return chosen


def _chosen_images(
    request: SkyMapperCutoutRequest, base: str, timeout: float
) -> list[SkyMapperImage]:
    """The images of ``request``'s band that cover the whole cutout, by `stack_choice`."""
    url = f"{base}/query"
    where = f"{request.source} for {request.label}: image list ({url})"
    params = {
        "POS": f"{request.ra:.7f},{request.dec:.7f}",
        "SIZE": f"{request.size_deg:.6f}",
        "BAND": request.band,
        "FORMAT": "image/fits",
        "INTERSECT": "covers",
        "VERB": "3",
        "RESPONSEFORMAT": "VOTABLE",
    }
    body = get_ok(url, params, timeout=timeout, where=where, service=_SERVICE).content
    chosen = stack_choice(siap_images(body, where=where), request.band)
    if not chosen:
        raise OnlineServiceError(
            f"{where}: no {request.band} image covers the {request.size_deg * 60:.1f}′ cutout "
            f"at {request.ra:.5f}, {request.dec:+.5f} (SkyMapper DR4 covers the southern "
            "sky, to dec +16° and +28° in places; a cutout across a CCD's edge is not "
            "covered either)",
            service=_SERVICE,
        )
    return chosen


def fetch_skymapper_cutout(
    request: SkyMapperCutoutRequest, *, timeout: float = TIMEOUT_S, base_url: str | None = None
) -> bytes:
    """The template for ``request`` as FITS bytes.

    With one usable image (`stack_choice`), the primary HDU holds its cutout in ADU
    (float32), summed in ``binning`` blocks, on the CCD's own grid with its WCS, and
    ``FILTER`` (the science
    frame's), ``SURVBAND``, ``SURVEY = 'skymapper-cutout'``, ``SMIMAGE`` (the image),
    ``MJD-OBS``, ``EXPTIME``, ``SEEING`` (arcseconds) and ``FWHM`` (template pixels) when
    the SIAP row gives them, ``MAGZP`` (``ZPAPPROX``), ``SATURATE`` when the cutout has
    it, ``IMAGETYP = TEMPLATE``, ``BINNING``, ``TCOVER`` (the share of the science frame
    it covers). With several, it holds their proper coadd (`skymapper_stacks`: background
    subtracted, on the best image's grid and in its ADU, summed in the same blocks) with
    the stack's ``MAGZP``, ``SEEING``, ``FWHM``, ``SATURATE``, the latest ``MJD-OBS``,
    ``SMNEXP`` and ``SMIMG1`` ... ``SMIMGn``; an extra cutout that fails is left out (a
    warning names it), a stack that cannot be made leaves the best image alone.

    ``base_url`` is the folder of ``query`` and ``get_image`` (default: SkyMapper's DR4).

    Raises
    ------
    OnlineServiceError
        The service unreachable or slow, an HTTP error, an image list that is not a
        VOTable (an HTML page) or lacks the columns, no image of the band covering the
        cutout (the message names the position and the band), a cutout that is not a
        readable FITS image, has no celestial WCS or covers none of the frame (the message
        names the survey, the band, the frame and the problem).
    """
    base = (base_url or SKYMAPPER_URL).rstrip("/")
    images = _chosen_images(request, base, timeout)
    first, where = _cutout(request, images[0], base, timeout)  # its failure is an error
    cutouts = [first]
    for image in images[1:]:
        try:
            cutouts.append(_cutout(request, image, base, timeout)[0])
        except OnlineServiceError as e:
            logger.warning("SkyMapper image %s left out of the stack: %s", image.image_id, e)
    stack = stack_cutouts(cutouts, where=where) if len(cutouts) > 1 else None
    raw = first.data if stack is None else stack.image
    data, wcs, cover = template_pixels(
        raw,
        first.header,
        binning=request.binning,
        frame_wcs=request.frame_wcs,
        frame_shape=request.frame_shape,
        where=where,
        service=_SERVICE,
        what=f"image {images[0].image_id}",
    )
    if stack is None:
        keywords = _provenance(images[0], first.header, wcs, where)
    else:
        keywords = stack_keywords(stack, cutouts, wcs, request.binning, images[0].exptime)
    return template_fits(
        data,
        wcs,
        survey=SKYMAPPER_CUTOUT,
        source="SkyMapper DR4 through its SIAP get_image",
        band=request.band,
        frame_filter=request.frame_filter,
        binning=request.binning,
        cover=cover,
        keywords=keywords,
    )


def _cutout(
    request: SkyMapperCutoutRequest, image: SkyMapperImage, base: str, timeout: float
) -> tuple[ExposureCutout, str]:
    """``image``'s cutout for ``request`` (ADU, the answer's header) and its ``where``."""
    url = f"{base}/get_image"
    where = f"{request.source} for {request.label} (image {image.image_id}, {url})"
    params = {
        "IMAGE": image.image_id,
        "SIZE": f"{request.size_deg:.6f}",
        "POS": f"{request.ra:.7f},{request.dec:.7f}",
        "FORMAT": "fits",
    }
    raw, header = cutout_image(url, params, timeout=timeout, where=where, service=_SERVICE)
    zero_point = _number(header.get("ZPAPPROX"))
    if zero_point is None:
        zero_point = image.zero_point
    return ExposureCutout(image.image_id, raw, header, image.mjd, zero_point), where


def _provenance(
    image: SkyMapperImage, header: fits.Header, wcs: WCS, where: str
) -> dict[str, tuple[object, str]]:
    """The chosen image's keywords: which it is, when, how deep and sharp, its zero point."""
    keywords: dict[str, tuple[object, str]] = {
        "SMIMAGE": (image.image_id, "SkyMapper DR4 image (exposure-CCD)"),
    }
    if image.mjd is not None:
        keywords["MJD-OBS"] = (image.mjd, "[d] the SkyMapper image's mjd_obs")
    if image.exptime is not None:
        keywords["EXPTIME"] = (image.exptime, "[s] the SkyMapper image's exposure")
    if image.fwhm is not None:
        keywords["SEEING"] = (image.fwhm, "[arcsec] the image's mean_fwhm (SIAP)")
        fwhm = image.fwhm / pixel_scale_arcsec(wcs)
        keywords["FWHM"] = (round(fwhm, 4), "[pix] SEEING in this template's pixels")
    saturation = _number(header.get("SATURATE"))
    if saturation is not None and saturation > 0:  # a block holding one sums at least to it
        keywords["SATURATE"] = (saturation, "[adu] the image's saturation level")
    zpapprox = _number(header.get("ZPAPPROX"))
    if zpapprox is not None:
        keywords["MAGZP"] = (zpapprox, "[mag] AB: ZPAPPROX of the image (approximate)")
    elif image.zero_point is not None:
        keywords["MAGZP"] = (image.zero_point, "[mag] AB: zpapprox of the SIAP row")
    else:
        logger.warning("%s: no ZPAPPROX in the cutout or the image list; no zero point", where)
    return keywords
