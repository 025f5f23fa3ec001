"""Image metadata from FITS header keywords (the conventions of `fits_reader` apply).

Each field is taken from the first of several customary keywords that holds a usable
value: a number in range for exposure time, gain, read noise, saturation, FWHM / seeing and
zero point; text for the filter; MJD (UTC) from MJD-OBS, MJD-MID, MJD, JD, DATE-MID,
DATE-OBS. Values that do not parse are ignored (logged at DEBUG); fields left without a
value take defaults that are recorded in ``ImageMeta.defaulted``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import numpy as np
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS

from astrid.observations.image import ImageMeta

__all__ = ["read_meta"]

logger = logging.getLogger(__name__)

_MJD_KEYS = ("MJD-OBS", "MJD-MID", "MJD")
_JD_KEYS = ("JD",)
_DATE_KEYS = ("DATE-MID", "DATE-OBS")
_FILTER_KEYS = ("FILTER", "FILTER1", "BAND")
_EXPTIME_KEYS = ("EXPTIME", "EXPOSURE")
_GAIN_KEYS = ("GAIN", "EGAIN", "GAINA")
_READ_NOISE_KEYS = ("RDNOISE", "READNOI", "RON", "READNOISE")
_SATURATION_KEYS = ("SATURATE", "SATLEVEL", "SATURATN")
_FWHM_PIXEL_KEYS = ("FWHM",)
_SEEING_ARCSEC_KEYS = ("SEEING",)
_ZERO_POINT_KEYS = ("MAGZP", "ZP", "MAGZERO", "PHOTZP")


class _Keywords:
    """Header look-ups that fall back from an extension header to the primary header."""

    def __init__(self, header: fits.Header, primary: fits.Header | None, label: str) -> None:
        self._headers = (header,) if primary is None else (header, primary)
        self._label = label

    def raw(self, key: str) -> object | None:
        for header in self._headers:
            if key in header:
                value = header[key]
                if value is not None and not isinstance(value, fits.card.Undefined):
                    return value
        return None

    def number(
        self, keys: Sequence[str], accept: Callable[[float], bool] = math.isfinite
    ) -> float | None:
        """The first of ``keys`` holding a number that ``accept`` allows."""
        for key in keys:
            value = self.raw(key)
            if value is None:
                continue
            number = _as_float(value)
            if number is None:
                logger.debug("%s: header %s = %r is not a number; ignored", self._label, key, value)
                continue
            if math.isfinite(number) and accept(number):
                return number
            logger.debug("%s: header %s = %r is out of range; ignored", self._label, key, value)
        return None

    def text(self, keys: Sequence[str]) -> str | None:
        """The first of ``keys`` holding a non-empty value, as stripped text."""
        for key in keys:
            value = self.raw(key)
            if value is None or isinstance(value, bool):
                continue
            text = str(value).strip()
            if text:
                return text
        return None


def _as_float(value: object) -> float | None:
    """A header value as float; None for booleans, text that is not a number and the like."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _positive(x: float) -> bool:
    return x > 0.0


def _non_negative(x: float) -> bool:
    return x >= 0.0


def read_meta(
    header: fits.Header,
    primary: fits.Header | None,
    name: str,
    wcs: WCS | None,
    label: str,
) -> ImageMeta:
    """ImageMeta from the header (falling back to the primary header), defaults recorded.

    Parameters
    ----------
    header : astropy.io.fits.Header
        The image HDU's header.
    primary : astropy.io.fits.Header or None
        The primary header when the image is in an extension (keywords missing from
        ``header`` are looked up there).
    name : str
        ``ImageMeta.name``.
    wcs : astropy.wcs.WCS or None
        Gives the pixel scale that turns SEEING (arcsec) into a FWHM in pixels.
    label : str
        The file, in log messages.

    Returns
    -------
    ImageMeta
        Fields the header does not give take their defaults and are listed in
        ``defaulted`` (and logged as a warning).
    """
    keys = _Keywords(header, primary, label)
    defaulted: list[str] = []

    def or_default(field: str, value: float | None, default: float) -> float:
        if value is None:
            defaulted.append(field)
            return default
        return value

    exptime = or_default("exptime", keys.number(_EXPTIME_KEYS, _positive), 1.0)
    gain = or_default("gain", keys.number(_GAIN_KEYS, _positive), 1.0)
    read_noise = or_default("read_noise", keys.number(_READ_NOISE_KEYS, _non_negative), 0.0)
    saturation = keys.number(_SATURATION_KEYS, _positive)
    if saturation is None:
        saturation = _integer_type_maximum(header)
    saturation = or_default("saturation", saturation, math.inf)

    meta = ImageMeta(
        name=name,
        mjd=_mjd(keys, label),
        filter=keys.text(_FILTER_KEYS),
        exptime=exptime,
        gain=gain,
        read_noise=read_noise,
        saturation=saturation,
        fwhm=_fwhm_pixels(keys, wcs, label),
        zero_point=keys.number(_ZERO_POINT_KEYS),
        defaulted=tuple(defaulted),
    )
    if defaulted:
        logger.warning(
            "%s: header lacks %s; using defaults %s",
            label,
            ", ".join(defaulted),
            {field: getattr(meta, field) for field in defaulted},
        )
    return meta


def _integer_type_maximum(header: fits.Header) -> float | None:
    """Largest physical value an integer BITPIX can hold after BSCALE/BZERO, else None."""
    bitpix = header.get("BITPIX")
    if bitpix not in (8, 16, 32, 64):
        return None
    low, high = (0, 255) if bitpix == 8 else (-(2 ** (bitpix - 1)), 2 ** (bitpix - 1) - 1)
    try:
        bzero = float(header.get("BZERO", 0.0))
        bscale = float(header.get("BSCALE", 1.0))
    except (TypeError, ValueError):
        return None
    return bzero + max(bscale * low, bscale * high)


def _mjd(keys: _Keywords, label: str) -> float | None:
    """MJD (UTC) from MJD-OBS, MJD-MID, MJD, JD, DATE-MID, DATE-OBS, first that parses."""
    mjd = keys.number(_MJD_KEYS)
    if mjd is not None:
        return mjd
    jd = keys.number(_JD_KEYS)
    if jd is not None:
        return jd - 2400000.5
    for key in _DATE_KEYS:
        value = keys.text((key,))
        if value is None:
            continue
        if "T" not in value and key == "DATE-OBS":
            time_of_day = keys.text(("TIME-OBS", "UT"))
            if time_of_day is not None and ":" in time_of_day:
                value = f"{value}T{time_of_day}"
        try:
            return float(Time(value, scale="utc").mjd)
        except ValueError:
            logger.debug("%s: header %s = %r is not an ISO date; ignored", label, key, value)
    return None


def _fwhm_pixels(keys: _Keywords, wcs: WCS | None, label: str) -> float | None:
    """FWHM in pixels: FWHM as pixels, else SEEING (arcsec) through the WCS pixel scale."""
    fwhm = keys.number(_FWHM_PIXEL_KEYS, _positive)
    if fwhm is not None:
        return fwhm
    seeing = keys.number(_SEEING_ARCSEC_KEYS, _positive)
    if seeing is None:
        return None
    if wcs is None:
        logger.debug("%s: SEEING = %s arcsec ignored: no WCS for the pixel scale", label, seeing)
        return None
    scale_arcsec = math.sqrt(abs(float(np.linalg.det(wcs.pixel_scale_matrix)))) * 3600.0
    return seeing / scale_arcsec
