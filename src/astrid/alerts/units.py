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


def tai_mjd(utc: float | datetime) -> float:
    """A UTC time (an MJD, or a timezone-aware datetime) as an MJD in TAI."""
    time = Time(utc, format="mjd", scale="utc") if isinstance(utc, float | int) else Time(utc)
    return float(time.tai.mjd)
