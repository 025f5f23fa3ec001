"""Times of survey packets as MJD in UTC.

ZTF gives Julian dates in UTC (``jd``); Rubin gives MJD in TAI (``midpointMjdTai``).
TAI − UTC has been 37 s since 2017-01-01 (MJD 57754) and no leap second has been added
since, so later TAI times lose 37 s; earlier ones are converted by astropy's leap-second
table. A time outside MJD 41317–100000 (1972–2132, the leap-second era to well past the
surveys) is not a plausible observation time and is refused.
"""

from __future__ import annotations

from astropy.time import Time

from astrid.errors import IngestError

__all__ = ["JD_MINUS_MJD", "check_mjd", "utc_from_tai"]

#: JD − MJD, in days.
JD_MINUS_MJD = 2400000.5

#: 2017-01-01T00:00 UTC, when TAI − UTC became 37 s.
_MJD_2017 = 57754.0
_TAI_MINUS_UTC_SINCE_2017 = 37.0 / 86400.0
_PLAUSIBLE = (41317.0, 100000.0)


def check_mjd(mjd: float, *, field: str) -> float:
    """``mjd`` if it is a plausible observation time (MJD 41317–100000), else `IngestError`.

    Examples
    --------
    >>> check_mjd(60000.5, field="jd")
    60000.5
    """
    low, high = _PLAUSIBLE
    if not low <= mjd <= high:
        raise IngestError(
            f"{field} is {mjd!r}: not an MJD between {low:.0f} and {high:.0f}",
            field=field,
            value=mjd,
        )
    return mjd


def utc_from_tai(mjd_tai: float) -> float:
    """An MJD in TAI as an MJD in UTC.

    Examples
    --------
    >>> round((60000.0 - utc_from_tai(60000.0)) * 86400, 6)
    37.0
    """
    if mjd_tai >= _MJD_2017 + _TAI_MINUS_UTC_SINCE_2017:
        return mjd_tai - _TAI_MINUS_UTC_SINCE_2017
    return float(Time(mjd_tai, format="mjd", scale="tai").utc.mjd)
