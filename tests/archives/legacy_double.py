"""A local stand-in for the Legacy Survey viewer's FITS cutout service, for the archive
tests (the viewer cannot be reached from here).

It answers ``/viewer/fits-cutout?ra=..&dec=..&layer=ls-dr10&pixscale=..&size=N&bands=b``
as the viewer's code does (legacysurvey/imagine, ``map/views.py``: ``get_cutout`` and
``write_cutout``): ``size`` capped at `max_size` (3000) without a word; a TAN WCS centred
on (ra, dec), ``CRPIX = (N + 1) / 2``, ``CD1_1 = -pixscale``, ``CD2_2 = +pixscale``
(degrees), ``IMAGEW``/``IMAGEH``; ``BANDS``, ``BAND0``, ``IMAGETYP = 'IMAGE'``; one band a
2-D float32 image, several bands (or a band it does not know: the viewer then falls back to
all of its bands) a cube; a pixel no coadd covers is 0. The pixel unit, nanomaggies at
pixscale 0.262 (AB zero point 22.5), is from the viewer's tips page
(https://www.legacysurvey.org/svtips/).

The pixels are synthetic: `ramp(y, x)` (known exactly) plus, at the cutout's centre, one
Gaussian star whose pixels sum to `STAR_FLUX` nanomaggies (`STAR_MAG` AB); or, when ``sky``
is set, that image resampled onto the cutout's grid (`sky_resampling.resampled_sky`), in
nanomaggies per cutout pixel (AB zero point 22.5 at pixscale 0.262; the area scaled at
any other pixscale), NaN where it does not reach turned to the viewer's 0.
"""

from __future__ import annotations

from io import BytesIO

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from local_http import stand_in_server
from sky_resampling import resampled_sky

from astrid.observations.image import Image

__all__ = ["STAR_FLUX", "STAR_MAG", "ZERO_POINT", "FakeLegacySurvey", "cutout_header", "ramp"]

#: The star's AB magnitude and its flux in nanomaggies (22.5 AB = 1 nanomaggy).
STAR_MAG = 18.0
#: AB magnitude of one nanomaggy, the unit of the pixels.
ZERO_POINT = 22.5
STAR_FLUX = 10 ** (-0.4 * (STAR_MAG - ZERO_POINT))
_BANDS = "griz"


def ramp(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The stand-in's sky in nanomaggies at the cutout's pixel (x, y) (0-based)."""
    return 5.0 + 0.01 * x + 0.02 * y


def cutout_header(ra: float, dec: float, pixscale: float, size: int) -> fits.Header:
    """The header the viewer writes for a ``size``² cutout: its TAN WCS and band keywords."""
    ps = pixscale / 3600.0
    return fits.Header(
        {
            "CTYPE1": "RA---TAN",
            "CTYPE2": "DEC--TAN",
            "CRVAL1": ra,
            "CRVAL2": dec,
            "CRPIX1": (size + 1) / 2.0,
            "CRPIX2": (size + 1) / 2.0,
            "CD1_1": -ps,
            "CD1_2": 0.0,
            "CD2_1": 0.0,
            "CD2_2": ps,
            "IMAGEW": size,
            "IMAGEH": size,
        }
    )


class FakeLegacySurvey:
    """A local stand-in for ``fits-cutout``; ``mode`` chooses the answer (``fits``,
    ``error``, ``html``, ``damaged``, ``empty``, ``half``, ``pixscale``, ``cube``),
    ``max_size`` the cap on ``size``, ``sky`` the image to serve instead of the synthetic
    pixels (None: those), and ``requests`` records ``(path, query)``."""

    def __init__(self) -> None:
        self.mode = "fits"
        self.max_size = 3000
        self.sky: Image | None = None
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.server = stand_in_server(self.answer)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/viewer"

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
        self.requests.append((path, query))
        if not path.endswith("/fits-cutout"):
            return 404, "text/html", b"<html>Not Found</html>"
        if self.mode == "error":
            return 500, "text/html", b"<html><title>Server Error (500)</title></html>"
        if self.mode == "html":
            return 200, "text/html", b"<!DOCTYPE html><html><body>Maintenance</body></html>"
        size = min(int(query["size"]), self.max_size)
        pixscale = float(query["pixscale"]) * (2.0 if self.mode == "pixscale" else 1.0)
        known = all(b in _BANDS for b in query["bands"]) and self.mode != "cube"
        bands = query["bands"] if known else _BANDS
        header = cutout_header(float(query["ra"]), float(query["dec"]), pixscale, size)
        header["BANDS"] = bands
        for i, band in enumerate(bands):
            header[f"BAND{i}"] = band
        header["IMAGETYP"] = "IMAGE"
        if self.sky is not None:
            grid = WCS(header, fix=False)
            image = resampled_sky(
                self.sky, grid, (size, size), zero_point=ZERO_POINT, pixel_scale=pixscale
            )
            image = np.nan_to_num(image, nan=0.0)  # the viewer leaves 0 where it has nothing
        else:
            image = _pixels(size)
        if self.mode == "empty":
            image[:] = 0.0
        if self.mode == "half":
            image[:, : size // 2] = 0.0
        data = image if len(bands) == 1 else np.stack([image] * len(bands))
        buffer = BytesIO()
        fits.PrimaryHDU(data.astype(">f4"), header).writeto(buffer)
        body = buffer.getvalue()
        if self.mode == "damaged":
            body = body[: len(body) // 2]
        return 200, "image/fits", body


def _pixels(size: int) -> np.ndarray:
    """`ramp` plus the star (sigma 1.5 pixels) at the centre."""
    y, x = np.mgrid[:size, :size].astype(float)
    c = (size - 1) / 2.0
    star = np.exp(-((x - c) ** 2 + (y - c) ** 2) / (2 * 1.5**2))
    return ramp(y, x) + STAR_FLUX * star / star.sum()
