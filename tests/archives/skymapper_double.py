"""A local stand-in for SkyMapper's DR4 SIAP, for the archive tests (the service cannot be
reached from here).

Its answers are built from the documented format, not recorded from the live service:

- ``/siap/dr4/query?POS=ra,dec&SIZE=deg&BAND=b&...`` answers a SIAP 1.0 VOTable
  (``RESOURCE type="results"``, ``INFO name="QUERY_STATUS" value="OK"``; the standard's
  columns with their UCDs, ``VOX:Image_Title`` ... ``VOX:Image_AccessReference``, and
  SkyMapper's ``unique_image_id``, ``band``, ``mjd_obs``, ``exptime``, ``image_type``,
  ``mean_fwhm``, ``zpapprox``, named as users of the DR4 service report them) with the
  rows of `IMAGES` in the asked bands; a failed query is ``QUERY_STATUS = ERROR`` with the
  reason, as SIAP 1.0 prescribes.
- ``/siap/dr4/get_image?IMAGE=id&SIZE=deg&POS=ra,dec&FORMAT=fits`` answers a cutout of that
  image: a sub-array of one CCD, so on the CCD's grid, not north up (the CCD's x along
  declination), with a TPV WCS whose ``CRVAL``/``CRPIX`` are the CCD's (``CRPIX`` outside
  the cutout) and small ``PV`` distortion terms, and ``FILTER``, ``MJD-OBS``, ``EXPTIME``,
  ``SATURATE``, ``ZPAPPROX`` (AB zero point of the exposure's ADU).

The pixels are synthetic, in ADU: `sky(y, x)` (a sky that was not subtracted, known
exactly) plus, at the asked position, one Gaussian star whose pixels sum to the ADU of a
`STAR_MAG` star at the image's ``ZPAPPROX``; or, when ``sky`` is set, `sky(y, x)` plus that
image resampled onto the cutout's CCD grid (`sky_resampling.resampled_sky`: ADU per 0.497″
pixel at the image's ``ZPAPPROX``), NaN where it does not reach.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from io import BytesIO

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from local_http import stand_in_server
from sky_resampling import resampled_sky

from astrid.observations.image import Image

__all__ = [
    "BEST",
    "IMAGES",
    "PIXEL_SCALE",
    "SATURATE",
    "STAR_MAG",
    "FakeSkyMapper",
    "SiapRow",
    "cutout_grid",
    "sky",
]

#: The star's AB magnitude.
STAR_MAG = 17.0
#: The CCD's pixel, arcseconds.
PIXEL_SCALE = 0.497
#: The cutouts' ``SATURATE`` (ADU).
SATURATE = 65435.0


@dataclass(frozen=True)
class SiapRow:
    """One image (CCD of an exposure): its SIAP row; ``zpapprox`` is the row's (rounded)
    value, ``header_zp`` the cutout's ``ZPAPPROX``."""

    image_id: str
    band: str
    mjd_obs: float
    exptime: float
    image_type: str
    mean_fwhm: float | None
    zpapprox: float | None
    header_zp: float


#: The stand-in's images of the field: shallow and main-survey exposures in r, one in g.
IMAGES = (
    SiapRow("20150411093512-07", "r", 57123.39944, 5.0, "short", 1.55, 25.41, 25.40871),
    SiapRow("20170322140233-21", "r", 57834.58511, 100.0, "main", 3.9, 28.61, 28.60652),
    SiapRow("20190315133702-12", "r", 58557.56738, 100.0, "main", 1.91, 28.652, 28.65183),
    SiapRow("20210604182211-30", "r", 59369.76541, 100.0, "main", None, 28.7, 28.69917),
    SiapRow("20180201101500-04", "g", 58150.42708, 100.0, "main", 1.62, 28.94, 28.93566),
)
#: The r image a template should come from: the sharpest of the deepest; the only one
#: that can be stacked (the 5 s image is too shallow, the 3.9" one too blurred, the last
#: one's seeing unknown), so the template is of one exposure.
BEST = IMAGES[2]


def sky(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The stand-in's sky in ADU at the cutout's pixel (x, y) (0-based)."""
    return 412.0 + 0.01 * x + 0.02 * y


def _ccd_header(ra: float, dec: float) -> fits.Header:
    """The CCD's TPV WCS keywords (a CD matrix, as users see in DR4 headers): its reference
    0.05° south and 0.04° east of (ra, dec), its x along declination and y along right
    ascension, with small distortion terms."""
    s = PIXEL_SCALE / 3600.0
    header = fits.Header()
    header.update(
        {
            "CTYPE1": "RA---TPV",
            "CTYPE2": "DEC--TPV",
            "CRVAL1": ra + 0.04 / np.cos(np.radians(dec)),
            "CRVAL2": dec - 0.05,
            "CRPIX1": 1024.5,
            "CRPIX2": 2048.5,
            "CD1_1": 0.0,
            "CD1_2": s,
            "CD2_1": s,
            "CD2_2": 0.0,
            "RADESYS": "ICRS",
        }
    )
    for axis in (1, 2):
        header.update({f"PV{axis}_0": 0.0, f"PV{axis}_1": 1.0, f"PV{axis}_2": 0.0})
        header.update({f"PV{axis}_4": 2e-3, f"PV{axis}_7": 5e-3})
    return header


def cutout_grid(
    ra: float, dec: float, size_deg: float, shift: tuple[float, float] = (0.0, 0.0)
) -> tuple[WCS, int, int]:
    """The CCD's WCS and the cutout's origin ``(x0, y0)`` on the CCD for ``get_image`` at
    (ra, dec) of side ``size_deg``: the cutout's own WCS is the CCD's with ``CRPIX``
    moved by the origin. ``shift`` (pixels) moves the CCD's ``CRPIX``: another pointing."""
    ccd = WCS(_shifted(_ccd_header(ra, dec), shift), fix=False)
    n = round(size_deg * 3600.0 / PIXEL_SCALE)
    px, py = (float(v) for v in ccd.world_to_pixel_values(ra, dec))
    return ccd, round(px - (n - 1) / 2.0), round(py - (n - 1) / 2.0)


def _shifted(header: fits.Header, shift: tuple[float, float]) -> fits.Header:
    header["CRPIX1"] += shift[0]
    header["CRPIX2"] += shift[1]
    return header


class FakeSkyMapper:
    """A local stand-in for the DR4 SIAP; ``mode`` chooses the answers (``fits``, ``none``:
    no image there, ``list-html``: an HTML page for the image list, ``list-error``: a
    ``QUERY_STATUS = ERROR``, ``columns``: no ``mean_fwhm`` column, ``html``: an HTML page
    for the cutout, ``error``: HTTP 500 for the cutout, ``damaged``: a truncated cutout,
    ``no-zp``: no ``ZPAPPROX`` in the cutout's header), and ``requests`` records
    ``(path, query)``; ``sky`` is the image to serve instead of the star (None: the
    star).

    For stacks: ``images`` replaces `IMAGES`; ``stars`` (east″, north″, AB magnitude from
    the asked position), when set, replaces the one star, each a Gaussian of the row's
    ``mean_fwhm``; ``noise`` adds Gaussian noise of that σ (ADU), seeded by the image;
    ``shifts`` moves an image's CCD grid by (x, y) pixels; the images in ``failing``
    answer HTTP 500."""

    def __init__(self) -> None:
        self.mode = "fits"
        self.sky: Image | None = None
        self.images: tuple[SiapRow, ...] = IMAGES
        self.stars: tuple[tuple[float, float, float], ...] = ()
        self.noise = 0.0
        self.shifts: dict[str, tuple[float, float]] = {}
        self.failing: set[str] = set()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.server = stand_in_server(self.answer)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/siap/dr4"

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
        self.requests.append((path, query))
        if path.endswith("/query"):
            return self._image_list(query)
        if path.endswith("/get_image"):
            return self._cutout(query)
        return 404, "text/html", b"<html>Not Found</html>"

    def _image_list(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        if self.mode == "list-html":
            return 200, "text/html", b"<!DOCTYPE html><html><body>Maintenance</body></html>"
        if self.mode == "list-error":
            body = _VOTABLE.format(status="ERROR", reason=_REASON, table="")
            return 200, "text/xml", body.encode()
        bands = query["BAND"].split(",")
        rows = [] if self.mode == "none" else [r for r in self.images if r.band in bands]
        fields = _FIELDS
        if self.mode == "columns":
            fields = "\n".join(f for f in _FIELDS.splitlines() if "mean_fwhm" not in f)
        cells = [_cells(r, query, self.url, drop_fwhm=self.mode == "columns") for r in rows]
        table = _TABLE.format(fields=fields, rows="\n".join(cells))
        return 200, "text/xml", _VOTABLE.format(status="OK", reason="", table=table).encode()

    def _cutout(self, query: dict[str, str]) -> tuple[int, str, bytes]:
        if self.mode == "error" or query["IMAGE"] in self.failing:
            return 500, "text/html", b"<html><title>500 Internal Server Error</title></html>"
        if self.mode == "html":
            return 200, "text/html", b"<!DOCTYPE html><html><body>Bad request</body></html>"
        (row,) = [r for r in self.images if r.image_id == query["IMAGE"]]
        ra, dec = (float(v) for v in query["POS"].split(","))
        shift = self.shifts.get(row.image_id, (0.0, 0.0))
        ccd, x0, y0 = cutout_grid(ra, dec, float(query["SIZE"]), shift)
        n = round(float(query["SIZE"]) * 3600.0 / PIXEL_SCALE)
        header = _shifted(_ccd_header(ra, dec), shift)
        header["CRPIX1"] -= x0
        header["CRPIX2"] -= y0
        header.update({"FILTER": row.band, "MJD-OBS": row.mjd_obs, "EXPTIME": row.exptime})
        header["SATURATE"] = SATURATE
        if self.mode != "no-zp":
            header["ZPAPPROX"] = (row.header_zp, "approximate zero point (AB)")
        y, x = np.mgrid[:n, :n].astype(float)
        if self.sky is not None:
            grid = WCS(header, fix=False)
            scene = resampled_sky(
                self.sky, grid, (n, n), zero_point=row.header_zp, pixel_scale=PIXEL_SCALE
            )
        elif self.stars:
            scene = self._stars(row, ccd, ra, dec, x + x0, y + y0)
        else:
            px, py = ccd.world_to_pixel_values(ra, dec)
            cx, cy = float(px) - x0, float(py) - y0
            star = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 1.8**2))
            scene = 10 ** (-0.4 * (STAR_MAG - row.header_zp)) * star / star.sum()
        buffer = BytesIO()
        pixels = sky(y, x) + scene
        if self.noise > 0:
            seed = zlib.crc32(row.image_id.encode())
            pixels = pixels + np.random.default_rng(seed).normal(0.0, self.noise, pixels.shape)
        fits.PrimaryHDU(pixels.astype(">f4"), header).writeto(buffer)
        body = buffer.getvalue()
        if self.mode == "damaged":
            body = body[: len(body) // 2]
        return 200, "image/fits", body

    def _stars(
        self, row: SiapRow, ccd: WCS, ra: float, dec: float, x: np.ndarray, y: np.ndarray
    ) -> np.ndarray:
        """``stars`` on the CCD's pixels (x, y), ADU at the row's ``ZPAPPROX``."""
        sigma = (row.mean_fwhm or 2.0) / PIXEL_SCALE / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        scene = np.zeros_like(x)
        for east, north, mag in self.stars:
            where = (ra + east / 3600.0 / np.cos(np.radians(dec)), dec + north / 3600.0)
            px, py = (float(v) for v in ccd.world_to_pixel_values(*where))
            r2 = (x - px) ** 2 + (y - py) ** 2
            flux = 10 ** (-0.4 * (mag - row.header_zp))
            scene += flux * np.exp(-r2 / (2 * sigma**2)) / (2 * np.pi * sigma**2)
        return scene


_REASON = "SIZE[0] must be between 0 and 0.17 deg"

_VOTABLE = """<?xml version="1.0" encoding="UTF-8"?>
<VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
<RESOURCE type="results">
<INFO name="QUERY_STATUS" value="{status}">{reason}</INFO>
{table}
</RESOURCE>
</VOTABLE>
"""

_TABLE = """<TABLE>
{fields}
<DATA><TABLEDATA>
{rows}
</TABLEDATA></DATA>
</TABLE>"""

_FIELDS = """<FIELD name="image_name" datatype="char" arraysize="*" ucd="VOX:Image_Title"/>
<FIELD name="unique_image_id" datatype="char" arraysize="*" ucd="meta.id"/>
<FIELD name="ra_cntr" datatype="double" unit="deg" ucd="POS_EQ_RA_MAIN"/>
<FIELD name="dec_cntr" datatype="double" unit="deg" ucd="POS_EQ_DEC_MAIN"/>
<FIELD name="naxes" datatype="int" ucd="VOX:Image_Naxes"/>
<FIELD name="naxis" datatype="int" arraysize="2" ucd="VOX:Image_Naxis"/>
<FIELD name="scale" datatype="double" arraysize="2" unit="deg" ucd="VOX:Image_Scale"/>
<FIELD name="format" datatype="char" arraysize="*" ucd="VOX:Image_Format"/>
<FIELD name="band" datatype="char" arraysize="*" ucd="VOX:BandPass_ID"/>
<FIELD name="mjd_obs" datatype="double" unit="d" ucd="VOX:Image_MJDateObs"/>
<FIELD name="exptime" datatype="double" unit="s"/>
<FIELD name="image_type" datatype="char" arraysize="*"/>
<FIELD name="mean_fwhm" datatype="double" unit="arcsec"/>
<FIELD name="zpapprox" datatype="double" unit="mag"/>
<FIELD name="get_fits" datatype="char" arraysize="*" ucd="VOX:Image_AccessReference"/>"""


def _cells(row: SiapRow, query: dict[str, str], url: str, *, drop_fwhm: bool) -> str:
    """The ``<TR>`` of ``row`` for ``query`` (an empty ``<TD>`` is a null)."""
    size = float(query["SIZE"])
    n = round(size * 3600.0 / PIXEL_SCALE)
    access = f"{url}/get_image?IMAGE={row.image_id}&amp;SIZE={size}&amp;POS={query['POS']}"
    values = [
        f"Skymapper_{row.image_id}",
        row.image_id,
        *query["POS"].split(","),
        "2",
        f"{n} {n}",
        f"{PIXEL_SCALE / 3600:.8f} {PIXEL_SCALE / 3600:.8f}",
        "image/fits",
        row.band,
        f"{row.mjd_obs}",
        f"{row.exptime}",
        row.image_type,
        None if drop_fwhm else ("" if row.mean_fwhm is None else f"{row.mean_fwhm}"),
        "" if row.zpapprox is None else f"{row.zpapprox}",
        f"{access}&amp;FORMAT=fits",
    ]
    return "<TR>" + "".join(f"<TD>{v}</TD>" for v in values if v is not None) + "</TR>"
