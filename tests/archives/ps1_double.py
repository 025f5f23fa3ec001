"""A local stand-in for STScI's PS1 image cutout service, for the archive tests (the
archive cannot be reached from here).

It answers as STScI documents the service (https://ps1images.stsci.edu/ps1image.html):
``/ps1filenames.py?ra=..&dec=..&filters=..&type=stack`` with the whitespace-separated
table ``projcell subcell ra dec filter mjd type filename shortname badflag``, and
``/fitscut.cgi?ra=..&dec=..&size=N&format=fits&red=<filename>`` with an N×N FITS cutout on
a skycell's tangent-plane grid (0.25″ pixels, north up, ``CRVAL`` at the projection
cell's centre, not the cutout's), with ``EXPTIME``, and, like the full skycell stacks,
asinh-scaled pixels with ``BSOFTEN``/``BOFFSET`` when ``asinh`` is set.

The pixels are synthetic: ``linear(y, x)`` (a ramp, known exactly), or, when ``sky`` is
set, that image resampled onto the cutout's grid with its flux kept (per 0.25″ pixel) and
scaled from ``sky``'s zero point to the stack's, 25 + 2.5 log10(EXPTIME).
"""

from __future__ import annotations

import math
from io import BytesIO

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from local_http import stand_in_server
from sky_resampling import resampled_sky

from astrid.observations.image import Image

__all__ = ["ASINH_A", "EXPTIME", "TABLE_HEADER", "FakePs1", "Ps1StandIn", "linear"]

EXPTIME = 1000.0
ASINH_A = 2.5 / math.log(10.0)
TABLE_HEADER = "projcell subcell ra dec filter mjd type filename shortname badflag"


def linear(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The stand-in's linear flux at the cutout's pixel (x, y) (0-based)."""
    return 50.0 + 0.5 * x + 0.25 * y


class Ps1StandIn:
    """What the stand-ins for STScI's ps1filenames.py and fitscut.cgi share (stacks here,
    warps in `ps1_frames_double`): ``list_mode`` and ``cut_mode`` choose the answers,
    ``asinh`` the pixels' scaling, ``requests`` records ``(path, query)``."""

    def __init__(self) -> None:
        self.list_mode = "ok"
        self.cut_mode = "fits"
        self.asinh = True
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.server = stand_in_server(self.answer)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin"

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
        self.requests.append((path, query))
        if path.endswith("/ps1filenames.py"):
            return self.file_list(query)
        if path.endswith("/fitscut.cgi"):
            return self.cutout(query)
        return 404, "text/plain", b"not found"

    def file_list(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        raise NotImplementedError

    def cutout(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        raise NotImplementedError

    def fits_answer(
        self, data: np.ndarray, header: fits.Header, *, soften: float
    ) -> tuple[int, str, bytes]:
        """The cutout as served: asinh-scaled (``BOFFSET``/``BSOFTEN``, offset the mean of
        the finite pixels) when ``asinh`` is set, big-endian float32, cut in half when
        ``cut_mode`` is ``damaged``."""
        if self.asinh:
            finite = data[np.isfinite(data)]
            offset = float(finite.mean()) if finite.size else 0.0
            header["BOFFSET"], header["BSOFTEN"] = offset, soften
            data = ASINH_A * np.arcsinh((data - offset) / (2.0 * soften))
        buffer = BytesIO()
        fits.PrimaryHDU(data.astype(">f4"), header).writeto(buffer)
        body = buffer.getvalue()
        if self.cut_mode == "damaged":
            body = body[: len(body) // 2]
        return 200, "application/fits", body


class FakePs1(Ps1StandIn):
    """The stand-in for PS1 stacks; ``sky``, when set, is served on the cutout's grid."""

    def __init__(self) -> None:
        super().__init__()
        self.sky: Image | None = None

    def file_list(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        if self.list_mode == "error":
            return 500, "text/plain", b"Internal Server Error"
        if self.list_mode == "columns":
            return 200, "text/plain", b"ra dec\n150.1 2.2\n"
        lines = [TABLE_HEADER]
        if self.list_mode == "ok":
            band = query["filters"]
            name = f"/rings.v3.skycell/1784/059/rings.v3.skycell.1784.059.stk.{band}.unconv.fits"
            lines.append(
                f"1784 59 {query['ra']} {query['dec']} {band} 56723.9 stack {name} "
                f"rings.v3.skycell.1784.059.stk.{band}.unconv.fits 0"
            )
        return 200, "text/plain", ("\n".join(lines) + "\n").encode()

    def cutout(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        if self.cut_mode == "error":
            return 500, "text/html", b"<html>fitscut failed</html>"
        if self.cut_mode == "html":
            return 200, "text/html", b"<html><body>Service down for maintenance</body></html>"
        size = int(query["size"])
        wcs = _skycell_wcs(float(query["ra"]), float(query["dec"]), size)
        if self.sky is not None:  # per 0.25″ pixel, at the stack's zero point
            zero_point = 25.0 + 2.5 * math.log10(EXPTIME)
            data = resampled_sky(
                self.sky, wcs, (size, size), zero_point=zero_point, pixel_scale=0.25
            )
        else:
            y, x = np.mgrid[:size, :size].astype(float)
            data = linear(y, x)
        if self.cut_mode == "nan":
            data[:] = np.nan
        header = wcs.to_header()
        header["RADESYS"] = "FK5"
        header["EXPTIME"] = EXPTIME
        if self.cut_mode == "no-wcs":
            header = fits.Header({"EXPTIME": EXPTIME})
        return self.fits_answer(data, header, soften=3.0)


def _skycell_wcs(ra: float, dec: float, size: int) -> WCS:
    """A cutout's WCS: a tangent plane at a projection cell's centre (about 0.2° from the
    cutout), 0.25″ pixels, the cutout centred on (ra, dec)."""
    cell = WCS(naxis=2)
    cell.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    cell.wcs.crval = [round(ra + 0.2, 1), round(dec - 0.15, 1)]
    cell.wcs.cdelt = [-0.25 / 3600.0, 0.25 / 3600.0]
    cell.wcs.crpix = [0.0, 0.0]
    x, y = cell.world_to_pixel_values(ra, dec)
    corner = (round(float(x)) - size // 2, round(float(y)) - size // 2)
    cell.wcs.crpix = [-corner[0], -corner[1]]
    return cell
