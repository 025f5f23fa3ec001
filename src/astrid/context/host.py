"""Host galaxy assignment by directional light radius (Sullivan et al. 2006; Gupta et al. 2016)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

from astrid.errors import AstridError


class ContextInputError(AstridError):
    """Invalid input to the context (host/classification) stage."""


@dataclass(frozen=True)
class HostMatch:
    """The host galaxy chosen for one object position."""

    index: int
    name: str
    ra: float
    dec: float
    sep_arcsec: float
    dlr: float
    a_arcsec: float
    b_arcsec: float
    pa_deg: float
    core_sep_arcsec: float


def directional_light_radius(
    dx_east: np.ndarray, dy_north: np.ndarray, a: np.ndarray, b: np.ndarray, pa_deg: np.ndarray
) -> np.ndarray:
    """Radius of an ellipse in the direction of an offset.

    Parameters
    ----------
    dx_east, dy_north : numpy.ndarray
        Offset of the object from the ellipse centre (tangent plane, east/north).
    a, b : numpy.ndarray
        Semi-major and semi-minor axes (same unit as the offsets).
    pa_deg : numpy.ndarray
        Position angle of the major axis, degrees east of north.

    Returns
    -------
    numpy.ndarray
        The ellipse radius along the offset direction (``a`` for a zero offset).
    """
    phi = np.arctan2(dx_east, dy_north) - np.deg2rad(pa_deg)
    r = (a * b) / np.sqrt((b * np.cos(phi)) ** 2 + (a * np.sin(phi)) ** 2)
    return np.where((dx_east == 0) & (dy_north == 0), a, r)


def _ref_name(ra: float, dec: float) -> str:
    c = SkyCoord(ra, dec, unit="deg")
    s = c.to_string("hmsdms", sep="", precision=2, pad=True).replace(" ", "")
    return "REF J" + s


def _check(sources: Table, ra: np.ndarray, dec: np.ndarray) -> None:
    for col in ("ra", "dec", "a_arcsec", "b_arcsec", "pa_deg", "extended", "bright_star"):
        if col not in sources.colnames:
            raise ContextInputError(f"reference sources: missing column '{col}'")
    if ra.shape != dec.shape:
        raise ContextInputError(f"ra/dec shapes differ: {ra.shape} vs {dec.shape}")
    if not (np.all(np.isfinite(ra)) and np.all(np.isfinite(dec))):
        raise ContextInputError("object positions: ra/dec contain NaN or inf")


def _offsets(sources: Table, ra: float, dec: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets of the object from each source, arcsec: minus the sources' longitude and
    latitude in the object's sky-offset frame (astropy's ``skyoffset_frame``, computed here
    in closed form: this runs once per object over every galaxy of the field)."""
    ra0, dec0 = np.radians(ra), np.radians(dec)
    d_ra = np.radians(np.asarray(sources["ra"], float)) - ra0
    src_dec = np.radians(np.asarray(sources["dec"], float))
    cos_dec, sin_dec = np.cos(src_dec), np.sin(src_dec)
    lon = np.arctan2(
        cos_dec * np.sin(d_ra),
        sin_dec * np.sin(dec0) + cos_dec * np.cos(dec0) * np.cos(d_ra),
    )
    lat = np.arcsin(
        np.clip(sin_dec * np.cos(dec0) - cos_dec * np.sin(dec0) * np.cos(d_ra), -1.0, 1.0)
    )
    # object relative to source = -(source relative to object)
    return -np.degrees(lon) * 3600.0, -np.degrees(lat) * 3600.0


def assign_hosts(
    sources: Table, ra: np.ndarray, dec: np.ndarray, *, max_dlr: float = 5.0
) -> list[HostMatch | None]:
    """Assign each position the extended source with the smallest DLR distance.

    Parameters
    ----------
    sources : astropy.table.Table
        Output of :func:`find_reference_sources`.
    ra, dec : array_like
        Object positions in degrees.
    max_dlr : float
        Hosts further than this many DLR are rejected (None returned).

    Returns
    -------
    list of HostMatch or None
    """
    ra = np.atleast_1d(np.asarray(ra, dtype=float))
    dec = np.atleast_1d(np.asarray(dec, dtype=float))
    _check(sources, ra, dec)
    gal = sources[np.asarray(sources["extended"], dtype=bool)]
    out: list[HostMatch | None] = []
    gidx = np.flatnonzero(np.asarray(sources["extended"], dtype=bool))
    for r, d in zip(ra, dec, strict=True):
        if len(gal) == 0:
            out.append(None)
            continue
        dx, dy = _offsets(gal, float(r), float(d))
        a = np.asarray(gal["a_arcsec"], float)
        b = np.asarray(gal["b_arcsec"], float)
        pa = np.asarray(gal["pa_deg"], float)
        sep = np.hypot(dx, dy)
        ddlr = sep / directional_light_radius(dx, dy, a, b, pa)
        k = int(np.argmin(ddlr))
        if ddlr[k] > max_dlr:
            out.append(None)
            continue
        out.append(
            HostMatch(
                index=int(gidx[k]),
                name=_ref_name(float(gal["ra"][k]), float(gal["dec"][k])),
                ra=float(gal["ra"][k]),
                dec=float(gal["dec"][k]),
                sep_arcsec=float(sep[k]),
                dlr=float(ddlr[k]),
                a_arcsec=float(a[k]),
                b_arcsec=float(b[k]),
                pa_deg=float(pa[k]),
                core_sep_arcsec=float(sep[k]),
            )
        )
    return out


def on_bright_star(
    sources: Table, ra: np.ndarray, dec: np.ndarray, radius_factor: float = 3.0
) -> np.ndarray:
    """Whether each position lies within ``radius_factor * a`` of a bright star.

    Parameters
    ----------
    sources : astropy.table.Table
        Output of :func:`find_reference_sources`.
    ra, dec : array_like
        Positions in degrees.
    radius_factor : float
        Radius in units of the star's semi-major axis.

    Returns
    -------
    numpy.ndarray of bool
    """
    ra = np.atleast_1d(np.asarray(ra, dtype=float))
    dec = np.atleast_1d(np.asarray(dec, dtype=float))
    _check(sources, ra, dec)
    stars = sources[np.asarray(sources["bright_star"], dtype=bool)]
    if len(stars) == 0 or ra.size == 0:
        return np.zeros(ra.size, dtype=bool)
    pos = SkyCoord(ra, dec, unit="deg")
    st = SkyCoord(np.asarray(stars["ra"]), np.asarray(stars["dec"]), unit="deg")
    sep = pos[:, None].separation(st[None, :]).arcsec
    rad = radius_factor * np.asarray(stars["a_arcsec"], float)[None, :]
    return np.asarray(np.any(sep <= rad, axis=1))
