"""A local stand-in for STScI's PS1 image services answering for single-epoch warps, for
the PS1 frame tests (MAST cannot be reached from here).

These are recorded formats with synthetic pixels, not live answers. The formats follow
STScI's documentation (https://outerspace.stsci.edu/display/PANSTARRS/PS1+Image+Cutout+
Service) and the header keywords of PS1 DR2 warps as STScI describes them:

- ``/ps1filenames.py?ra=..&dec=..&filters=..&type=warp`` answers the whitespace-separated
  table ``projcell subcell ra dec filter mjd type filename shortname badflag`` with the
  rows of `WARPS` whose band is in ``filters`` (one flagged bad, one on a neighbouring
  skycell). The file names follow the pattern of DR2 warps
  (``rings.v3.skycell.PPPP.SSS.wrp.<band>.<MJD day>_<fraction>.fits``); no code reads it.
- ``/fitscut.cgi?red=<filename>&ra=..&dec=..&size=N&format=fits`` answers an N×N cutout:
  a tangent plane at the projection cell's centre with the old ``PC00i00j`` keywords and
  ``CDELT`` of 0.25″, ``RADESYS``, ``EXPTIME``, ``MJD-OBS`` (TAI), ``TIMESYS``, the
  ``HIERARCH FPA.*`` keywords (``FPA.ZP`` among them), and, like full skycell images,
  asinh-scaled pixels with ``BSOFTEN``/``BOFFSET`` unless ``asinh`` is off.

The linear counts are ``counts(y, x)`` (a ramp, known exactly), with two NaN columns
standing for a gap between detector cells.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from ps1_double import TABLE_HEADER, Ps1StandIn

__all__ = ["EXPTIME", "FPA_ZP", "GAP_COLUMNS", "WARPS", "FakePs1Warps", "counts"]

#: The exposure times of PS1 3π warps by band, seconds, and the zero points served.
EXPTIME = {"g": 43.0, "r": 40.0, "i": 45.0, "z": 30.0, "y": 30.0}
FPA_ZP = {"g": 24.41, "r": 24.68, "i": 24.56, "z": 24.22, "y": 23.24}
#: Cutout columns left NaN (a cell gap).
GAP_COLUMNS = (5, 6)
#: (projcell, subcell, band, mjd, badflag) of the warps listed.
WARPS = (
    (1784, 59, "g", 55580.51874, 0),
    (1784, 59, "r", 56001.37820, 0),
    (1784, 59, "r", 56002.40011, 1),
    (1784, 60, "r", 56002.41288, 0),
    (1784, 59, "i", 55580.53012, 0),
    (1784, 59, "z", 56650.24117, 0),
    (1784, 59, "y", 56980.30555, 0),
)


def counts(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The stand-in's linear counts at the cutout's pixel (x, y) (0-based)."""
    return 120.0 + 2.0 * x + 0.5 * y


def short_name(projcell: int, subcell: int, band: str, mjd: float) -> str:
    day, fraction = f"{mjd:.5f}".split(".")
    return f"rings.v3.skycell.{projcell:04d}.{subcell:03d}.wrp.{band}.{day}_{fraction}.fits"


class FakePs1Warps(Ps1StandIn):
    """The stand-in for PS1 warps (`Ps1StandIn`: modes, scaling, requests)."""

    def file_list(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        if self.list_mode == "error":
            return 500, "text/plain", b"Internal Server Error"
        if self.list_mode == "html":
            return 200, "text/html", b"<html><body>Service unavailable</body></html>\n"
        if self.list_mode == "columns":
            return 200, "text/plain", b"projcell subcell ra dec filter\n1784 59 150.1 2.2 r\n"
        lines = [TABLE_HEADER]
        for projcell, subcell, band, mjd, badflag in WARPS:
            if self.list_mode == "empty" or band not in query["filters"]:
                continue
            short = short_name(projcell, subcell, band, mjd)
            name = f"/rings.v3.skycell/{projcell:04d}/{subcell:03d}/{short}"
            shown = "--" if self.list_mode == "malformed" else f"{mjd:.5f}"
            lines.append(
                f"{projcell} {subcell} {query['ra']} {query['dec']} {band} {shown} warp "
                f"{name} {short} {badflag}"
            )
        return 200, "text/plain", ("\n".join(lines) + "\n").encode()

    def cutout(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        if self.cut_mode == "error":
            return 500, "text/html", b"<html>fitscut failed</html>"
        if self.cut_mode == "html":
            return 200, "text/html", b"<html><body>ERROR: file not found</body></html>"
        short = query["red"].rsplit("/", 1)[-1]
        band = short.split(".wrp.")[1][0]
        day, fraction = short.rsplit(".", 2)[-2].split("_")
        size = int(query["size"])
        y, x = np.mgrid[:size, :size].astype(float)
        data = counts(y, x)
        data[:, list(GAP_COLUMNS)] = np.nan
        if self.cut_mode == "nan":
            data[:] = np.nan
        header = _warp_header(float(query["ra"]), float(query["dec"]), size)
        header["EXPTIME"] = (EXPTIME[band], "Exposure time (s)")
        header["MJD-OBS"] = (float(f"{day}.{fraction}"), "Start of exposure (TAI)")
        header["TIMESYS"] = "TAI"
        header["HIERARCH FPA.TELESCOPE"] = "PS1"
        header["HIERARCH FPA.INSTRUMENT"] = "GPC1"
        header["HIERARCH FPA.FILTERID"] = f"{band}.00000"
        header["HIERARCH FPA.FILTER"] = f"{band}.00000"
        header["HIERARCH FPA.AIRMASS"] = 1.137
        header["HIERARCH FPA.EXPOSURE"] = EXPTIME[band]
        if self.cut_mode != "no-zp":
            header["HIERARCH FPA.ZP"] = FPA_ZP[band]
        return self.fits_answer(data, header, soften=4.0)


def _warp_header(ra: float, dec: float, size: int) -> fits.Header:
    """A warp cutout's WCS, as PS1 writes it: the projection cell's tangent point (about
    0.2° from the cutout), ``CDELT`` of 0.25″ and the old ``PC00i00j`` rotation keywords,
    the cutout's centre on (ra, dec)."""
    cell = WCS(naxis=2)
    cell.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    cell.wcs.crval = [round(ra + 0.2, 1), round(dec - 0.15, 1)]
    cell.wcs.cdelt = [-0.25 / 3600.0, 0.25 / 3600.0]
    cell.wcs.crpix = [0.0, 0.0]
    x, y = cell.world_to_pixel_values(ra, dec)  # 0-based, CRPIX 0: 1-based -1
    centre = (size - 1) / 2.0
    header = fits.Header()
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    header["CRVAL1"], header["CRVAL2"] = (float(v) for v in cell.wcs.crval)
    header["CRPIX1"], header["CRPIX2"] = centre - float(x), centre - float(y)
    header["CDELT1"], header["CDELT2"] = (float(v) for v in cell.wcs.cdelt)
    header["PC001001"], header["PC001002"] = 1.0, 0.0
    header["PC002001"], header["PC002002"] = 0.0, 1.0
    header["RADESYS"], header["EQUINOX"] = "FK5", 2000.0
    return header
