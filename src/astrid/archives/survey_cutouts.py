"""What the clients of survey cutout services on the survey's own grid share.

PS1's cutout service (`ps1_cutouts`), the Legacy Survey's viewer (`legacy_cutouts`) and
SkyMapper's SIAP (`skymapper_cutouts`) all answer a square cutout centred on a position, on
the survey's grid. A template from any of them is built the same way:

- `SurveyCutoutRequest`: what is asked (band, centre, size, binning) and the science frame
  it is for, with the cache key (``digest``) the clients' requests share;
- `cutout_footprint`: the cutout centred on the science frame, wide enough for the frame
  turned any way plus a margin, and the block size that keeps the template's pixels no
  finer than the frame's; a frame wider than the service cuts is refused (not tiled);
- `cutout_image`: the service's FITS answer fetched and read (its first 2-D image and
  header), or an `OnlineServiceError` saying what came instead;
- `template_pixels`: the answer's pixels summed in those blocks on its own WCS (a sum keeps
  the zero point), and the share of the frame its finite pixels cover;
- `template_fits`: the template file, with the keywords AstrID's reader takes (``MAGZP``:
  the zero point; ``FILTER``: the science frame's band, so the pair passes the band check).

Conventions: sky positions in degrees ICRS; sizes in the survey's pixels unless named.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from astrid.archives.fits_answers import image_of, read_fits_answer
from astrid.archives.http_answers import get_ok
from astrid.errors import ConfigurationError, OnlineServiceError
from astrid.observations.image import Image

__all__ = [
    "CutoutFootprint",
    "SurveyCutoutRequest",
    "cutout_footprint",
    "cutout_image",
    "pixel_scale_arcsec",
    "template_fits",
    "template_pixels",
]


@dataclass(frozen=True)
class SurveyCutoutRequest:
    """What is asked of a survey's cutout service for one frame.

    Attributes
    ----------
    band : str
        The survey's band.
    ra, dec : float
        The cutout's centre: the science frame's centre.
    size : int
        Side of the cutout in survey pixels: the frame's circumscribed circle plus the
        margin, a multiple of ``binning``.
    binning : int
        Survey pixels summed into one template pixel on each axis.
    label : str
        The science frame (for messages).
    frame_filter : str or None
        The science frame's ``FILTER``, written into the template's.
    frame_wcs : WCS
        The science frame's celestial WCS (to measure how much of it the answer covers).
    frame_shape : tuple of int
        ``(ny, nx)`` of the science frame.
    margin : int
        Science pixels added on every side of the frame.
    """

    band: str
    ra: float
    dec: float
    size: int
    binning: int
    label: str
    frame_filter: str | None
    frame_wcs: WCS
    frame_shape: tuple[int, int]
    margin: int

    #: AstrID's name of the source (set by each client's request).
    survey: ClassVar[str] = ""

    @classmethod
    def of(cls, band: str, footprint: CutoutFootprint, science: Image, margin: int) -> Self:
        """The request of ``band`` over ``footprint`` for the frame ``science``."""
        return cls(
            band,
            footprint.ra,
            footprint.dec,
            footprint.size,
            footprint.binning,
            science.label,
            science.meta.filter,
            footprint.frame_wcs,
            footprint.frame_shape,
            margin,
        )

    @property
    def source(self) -> str:
        """What is asked for, for messages."""
        return f"{self.survey} {self.band} cutout"

    @property
    def centre(self) -> tuple[float, float]:
        """``(ra, dec)`` in degrees of the cutout's centre."""
        return self.ra, self.dec

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)`` of the template asked for (after binning)."""
        side = self.size // self.binning
        return side, side

    def _service_terms(self) -> list[object]:
        """What else of the service determines the answer (layer, pixel scale)."""
        return []

    @property
    def digest(self) -> str:
        """SHA-256 of everything that determines the answer (a cache key)."""
        terms = [self.survey, *self._service_terms(), self.band, round(self.ra, 7)]
        terms += [round(self.dec, 7), self.size, self.binning]
        return hashlib.sha256(json.dumps(terms).encode()).hexdigest()


@dataclass(frozen=True)
class CutoutFootprint:
    """The square cutout a science frame needs from a survey.

    Attributes
    ----------
    ra, dec : float
        The cutout's centre: the science frame's centre.
    size : int
        Side of the cutout in survey pixels: the frame's circumscribed circle plus the
        margin, a multiple of ``binning``.
    binning : int
        Survey pixels summed into one template pixel on each axis.
    frame_wcs : WCS
        The science frame's celestial WCS (to measure how much of it the answer covers).
    frame_shape : tuple of int
        ``(ny, nx)`` of the science frame.
    """

    ra: float
    dec: float
    size: int
    binning: int
    frame_wcs: WCS
    frame_shape: tuple[int, int]


def pixel_scale_arcsec(wcs: WCS) -> float:
    """The mean pixel side of a celestial ``wcs``, arcseconds."""
    return float(np.mean(proj_plane_pixel_scales(wcs.celestial))) * 3600.0


def cutout_footprint(
    science: Image,
    *,
    survey: str,
    pixel_scale: float,
    max_size: int,
    margin: int,
    binning: int | None = None,
    limit: str,
    advice: str,
) -> CutoutFootprint:
    """The cutout of ``survey`` (pixels of ``pixel_scale`` arcseconds) for ``science``.

    The cutout is centred on the frame and wide enough for the frame, turned any way, plus
    ``margin`` science pixels on every side. ``binning`` defaults to the largest whole
    number of survey pixels in one science pixel (at least 1).

    Parameters
    ----------
    science : Image
        The science frame (with a celestial WCS).
    survey : str
        The survey's name, for messages ("PS1", "Legacy Survey").
    pixel_scale : float
        The survey's pixel, arcseconds.
    max_size : int
        The widest cutout the service gives, in survey pixels.
    margin : int
        Science pixels added on every side.
    binning : int, optional
        Survey pixels summed per axis into one template pixel.
    limit, advice : str
        Why the service stops at ``max_size``, and what to do instead (for the message).

    Raises
    ------
    ConfigurationError
        No celestial WCS, a negative margin or binning below 1, or a frame that needs a
        cutout wider than ``max_size`` (the message names the frame, the size and the
        limit; ``size`` and ``max_size`` are attributes).
    """
    if science.wcs is None or not science.wcs.has_celestial:
        raise ConfigurationError(f"{science.label}: no celestial WCS to ask a template for")
    if margin < 0:
        raise ConfigurationError(f"template margin {margin}: must be ≥ 0", margin=margin)
    wcs = science.wcs.celestial
    ny, nx = science.shape
    if binning is None:
        binning = max(1, math.floor(pixel_scale_arcsec(wcs) / pixel_scale + 1e-6))
    if binning < 1:
        raise ConfigurationError(f"{survey} binning {binning}: must be ≥ 1", binning=binning)
    ra, dec = (float(v) for v in wcs.pixel_to_world_values((nx - 1) / 2.0, (ny - 1) / 2.0))
    xs = np.array([-0.5 - margin, nx - 0.5 + margin])
    ys = np.array([-0.5 - margin, ny - 0.5 + margin])
    cx, cy = np.meshgrid(xs, ys)
    cra, cdec = wcs.pixel_to_world_values(cx.ravel(), cy.ravel())
    corners = zip(cra, cdec, strict=True)
    radius = max(_separation_arcsec(ra, dec, float(a), float(d)) for a, d in corners)
    size = 2 * math.ceil(radius / pixel_scale)
    size = binning * math.ceil(size / binning)
    if size > max_size:
        raise ConfigurationError(
            f"{science.label}: a {survey} cutout for this frame would be {size} pixels "
            f"({size * pixel_scale / 60:.1f}′) wide; {limit}, at most {max_size} "
            f"({max_size * pixel_scale / 60:.1f}′); {advice}",
            size=size,
            max_size=max_size,
        )
    return CutoutFootprint(ra, dec, size, binning, wcs, (ny, nx))


def _separation_arcsec(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Great-circle distance (haversine), arcseconds."""
    p1, p2, dl = math.radians(dec1), math.radians(dec2), math.radians(ra2 - ra1)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h)))) * 3600.0


def cutout_image(
    url: str, params: Mapping[str, str], *, timeout: float, where: str, service: str
) -> tuple[np.ndarray, fits.Header]:
    """The first 2-D image (float64) of the FITS answer to a GET of ``url`` with
    ``params``, and a copy of its header.

    Raises
    ------
    OnlineServiceError
        The service unreachable or slow, an HTTP error, an answer that is not a readable
        FITS file (an HTML page), holds no 2-D image or no finite pixel (the message names
        ``where``; ``service`` is its attribute).
    """
    body = get_ok(url, params, timeout=timeout, where=where, service=service).content
    with read_fits_answer(body, where=where, service=service) as hdul:
        data, header = image_of(hdul, where=where, service=service)
        return data, header.copy()


def template_pixels(
    data: np.ndarray,
    header: fits.Header,
    *,
    binning: int,
    frame_wcs: WCS,
    frame_shape: tuple[int, int],
    where: str,
    service: str,
    what: str,
) -> tuple[np.ndarray, WCS, float]:
    """The answer's ``data`` summed in ``binning`` × ``binning`` blocks on its own WCS (from
    ``header``), that WCS, and the share of the science frame (``frame_wcs``,
    ``frame_shape``) on finite pixels.

    Raises
    ------
    OnlineServiceError
        No celestial WCS in ``header``, or the pixels cover none of the frame (the message
        names ``where`` and ``what``: the survey's file or layer).
    """
    wcs = WCS(header, naxis=2, fix=False)
    if not wcs.has_celestial:
        raise OnlineServiceError(f"{where}: the cutout has no celestial WCS", service=service)
    binned, wcs = _binned(data, wcs, binning)
    cover = _coverage(frame_wcs, frame_shape, binned, wcs)
    if cover == 0.0:
        raise OnlineServiceError(
            f"{where}: the cutout covers none of the frame ({what})", service=service
        )
    return binned, wcs, cover


def _binned(data: np.ndarray, wcs: WCS, k: int) -> tuple[np.ndarray, WCS]:
    """``data`` summed in ``k`` × ``k`` blocks (a block with a NaN is NaN) and its WCS.

    The WCS's matrix (``CD``, else ``PC``) is scaled by ``k`` and ``CRPIX`` moved to the
    block that holds it, so what the matrix gives is unchanged: exact for TAN and for TPV
    (SkyMapper), whose terms wcslib applies to it, before ``CDELT`` (scaling ``CDELT``, as
    `WCS.slice` does, would change what the terms see). SIP terms are not rescaled: none
    of these services send them.
    """
    if k == 1:
        return data, wcs
    ny, nx = (data.shape[0] // k) * k, (data.shape[1] // k) * k
    blocks = data[:ny, :nx].reshape(ny // k, k, nx // k, k)
    binned = wcs.deepcopy()
    if binned.wcs.has_cd():
        binned.wcs.cd = binned.wcs.cd * k
    else:
        binned.wcs.pc = binned.wcs.get_pc() * k
    binned.wcs.crpix = (binned.wcs.crpix - 0.5) / k + 0.5
    binned.pixel_shape = (nx // k, ny // k)
    return blocks.sum(axis=(1, 3)), binned


def _coverage(frame_wcs: WCS, frame_shape: tuple[int, int], data: np.ndarray, wcs: WCS) -> float:
    """The share of the science frame (sampled every 8 pixels) on finite template pixels."""
    ny, nx = frame_shape
    gy, gx = np.mgrid[0:ny:8, 0:nx:8]
    ra, dec = frame_wcs.pixel_to_world_values(gx.ravel(), gy.ravel())
    tx, ty = wcs.world_to_pixel_values(ra, dec)
    ix, iy = np.round(tx).astype(int), np.round(ty).astype(int)
    inside = (ix >= 0) & (iy >= 0) & (ix < data.shape[1]) & (iy < data.shape[0])
    good = np.zeros(ix.shape, dtype=bool)
    good[inside] = np.isfinite(data[iy[inside], ix[inside]])
    return float(good.mean())


def template_fits(
    data: np.ndarray,
    wcs: WCS,
    *,
    survey: str,
    source: str,
    band: str,
    frame_filter: str | None,
    binning: int,
    cover: float,
    keywords: Mapping[str, tuple[object, str]],
) -> bytes:
    """The template as FITS bytes: ``data`` (float32) with ``wcs``, ``IMAGETYP = TEMPLATE``,
    ``SURVEY`` (AstrID's name, with ``source`` as comment), ``SURVBAND`` (``band``),
    ``FILTER`` (``frame_filter``, else ``band``), ``BINNING``, ``TCOVER`` (``cover``) and
    the survey's own ``keywords`` (``MAGZP`` among them when the survey gives a zero
    point), each ``(value, comment)``."""
    header = wcs.to_header(relax=True)
    header["IMAGETYP"] = ("TEMPLATE", "archive image of the science frame's sky")
    header["SURVEY"] = (survey, source)
    header["SURVBAND"] = (band, "the survey's band")
    header["FILTER"] = (frame_filter or band, "the science frame's band")
    header["BINNING"] = (binning, "survey pixels summed per axis into one pixel")
    header["TCOVER"] = (round(cover, 4), "share of the science frame covered")
    for key, (value, comment) in keywords.items():
        header[key] = (value, comment)
    buffer = io.BytesIO()
    fits.PrimaryHDU(np.asarray(data, dtype=np.float32), header).writeto(buffer)
    return buffer.getvalue()
