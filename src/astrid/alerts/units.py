"""Units of the Rubin schema: fluxes in nJy, times as MJD in TAI.

AstrID's fluxes are in the science image's units, with the frame's zero point (the AB
magnitude of one unit, when the header or the photometric calibration gives it). The AB
magnitude of 1 nJy is 31.4 (``-2.5 log10(1e-9 / 3631)``), so a flux ``f`` in image units
is ``f * 10**(0.4 * (31.4 - zero_point))`` nJy. Without a zero point there is no
conversion: `nanojansky_per_unit` returns None and the packet's flux fields stay null.

Observation times are MJD in UTC (``MJD-OBS``, the FITS default time scale); Rubin's
``*MjdTai`` fields are TAI, 37 s later since 2017.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import lru_cache

from astropy.time import Time

__all__ = ["AB_MAG_OF_ONE_NJY", "nanojansky_per_unit", "tai_mjd"]

#: The AB magnitude of a flux of 1 nJy.
AB_MAG_OF_ONE_NJY = 31.4


def nanojansky_per_unit(zero_point: float | None) -> float | None:
    """nJy per image unit for an AB zero point, or None when it is unknown or not finite.

    Examples
    --------
    >>> nanojansky_per_unit(31.4)
    1.0
    >>> round(nanojansky_per_unit(25.0), 1)
    363.1
    >>> nanojansky_per_unit(None) is None
    True
    """
    if zero_point is None or not math.isfinite(zero_point):
        return None
    return float(10.0 ** (0.4 * (AB_MAG_OF_ONE_NJY - zero_point)))


#: MJD of the Unix epoch, 1970-01-01T00:00 UTC.
_UNIX_EPOCH_MJD = 40587.0


@lru_cache(maxsize=4096)
def _tai_minus_utc_days(day: int) -> float:
    """TAI − UTC in days during the UTC day starting at MJD ``day`` (leap seconds change it
    only at the end of a day)."""
    return float(Time(float(day), format="mjd", scale="utc").tai.mjd) - day


def tai_mjd(utc: float | datetime) -> float:
    """A UTC time (an MJD, or a timezone-aware datetime) as an MJD in TAI.

    Examples
    --------
    >>> round((tai_mjd(60000.25) - 60000.25) * 86400, 3)  # 37 leap seconds since 2017
    37.0
    """
    if isinstance(utc, datetime):
        mjd = utc.timestamp() / 86400.0 + _UNIX_EPOCH_MJD
    else:
        mjd = float(utc)
    return mjd + _tai_minus_utc_days(math.floor(mjd))
