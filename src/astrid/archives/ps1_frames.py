"""Pan-STARRS1 single-epoch science frames ("warps") from MAST by position and date.

STScI documents the PS1 image services (https://outerspace.stsci.edu/display/PANSTARRS/
PS1+Image+Cutout+Service): a GET of ``…/cgi-bin/ps1filenames.py?ra=..&dec=..&
filters=grizy&type=warp`` answers a whitespace-separated table with the columns
``projcell subcell ra dec filter mjd type filename shortname badflag``, one row per warp
(one exposure resampled onto one skycell of the PS1 tessellation) that covers the point;
a GET of ``…/cgi-bin/fitscut.cgi?red=<filename>&ra=..&dec=..&size=N&format=fits`` answers
an N×N FITS cutout of that warp, in 0.25″ pixels, north up on the skycell's tangent-plane
grid. Warps have been public since DR2 (2019); no account is needed. `search_ps1_frames`
asks for the list; `download_ps1_frame` fetches one cutout and writes it whole or not at
all. The services have no maintained Python client, so this speaks HTTP with httpx (the
file list is read by `ps1_cutouts.file_list`, shared with the stack cutouts).

What is assumed of the formats (from STScI's pages, not checked against a live answer):

- The list's ``filter`` is the band letter (g, r, i, z, y), its ``type`` is ``warp``, its
  ``mjd`` the exposure's MJD, its ``filename`` the path that ``fitscut.cgi`` takes as
  ``red``, and a ``badflag`` other than 0 marks a warp STScI flags as bad (dropped).
- The date window is applied here, to the list's ``mjd``: ``ps1filenames.py`` documents no
  date parameter.
- A warp's pixels are counts (DN) over the exposure. The cutout's header holds
  ``EXPTIME`` (s), ``MJD-OBS`` (exposure start, TAI: STScI's FAQ) and the exposure's
  photometric zero point ``HIERARCH FPA.ZP``, taken to be IPP's zero point for 1 count per
  second, so the magnitude of 1 count in the image is ``FPA.ZP + 2.5 log10(EXPTIME)``.
- Full skycell images are stored asinh-scaled with ``BSOFTEN``/``BOFFSET``; when a cutout
  has both keywords its pixels are turned back into linear counts as for the stacks
  (`ps1_cutouts.linear_flux`), else they are taken as linear already.

The file written is the cutout's primary image as float32 linear counts with the cutout's
header (WCS, ``EXPTIME``, ``MJD-OBS``, the ``FPA.*`` keywords) kept, less
``BSOFTEN``/``BOFFSET``/``BSCALE``/``BZERO``, plus ``FILTER`` (the band), ``MAGZP`` (the
zero point above, which AstrID's reader takes; left out, with a warning, when
``FPA.ZP`` or ``EXPTIME`` is missing), ``PS1FILE``, ``SURVEY = 'ps1-warp'``, and
``RADESYS``/``TIMESYS``/``MJD-OBS`` when the cutout lacks them (STScI's caveats: full
skycells lack ``RADESYS``, warp times are TAI). It is named
``ps1_warp_<band>_<mjd>_skycell<projcell>.<subcell>.fits``.

Failures (no answer, an HTTP error, a table without the documented columns, a row that
does not parse, an answer that is not a readable FITS image or holds no finite pixel) are
`OnlineServiceError` naming the service and the request; a position south of PS1's sky
(dec < −30°) is a `ConfigurationError` before any request.

Conventions: positions in degrees ICRS; sizes in PS1 pixels (0.25″).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import httpx
import numpy as np
from astropy.io import fits

from astrid.archives.ps1_cutouts import MAX_SIZE, PS1_BANDS, PS1_URL, file_list, linear_flux
from astrid.archives.survey_bands import match_band
from astrid.archives.survey_cutouts import cutout_image
from astrid.atomic_files import write_atomically
from astrid.errors import ConfigurationError, OnlineServiceError

__all__ = [
    "DEFAULT_SIZE",
    "MIN_DEC",
    "PS1_WARP",
    "Ps1Frame",
    "download_ps1_frame",
    "search_ps1_frames",
]

logger = logging.getLogger(__name__)

#: AstrID's name of this source of frames (the files' ``SURVEY``).
PS1_WARP = "ps1-warp"
#: PS1 (3π) covers the sky north of this declination, degrees.
MIN_DEC = -30.0
#: The cutout's side by default, PS1 pixels (5′).
DEFAULT_SIZE = 1200
#: The columns of the file list this reads.
_COLUMNS = ("projcell", "subcell", "filter", "mjd", "type", "filename", "shortname", "badflag")
#: Header keywords not carried over: the asinh and integer scalings are undone, checksums
#: would no longer hold, and the file is one primary HDU.
_DROPPED = (
    *("BSOFTEN", "BOFFSET", "BSCALE", "BZERO", "BLANK", "CHECKSUM", "DATASUM"),
    *("XTENSION", "PCOUNT", "GCOUNT"),
)


@dataclass(frozen=True)
class Ps1Frame:
    """One PS1 warp (one exposure on one skycell) that covers a searched position."""

    projcell: int
    subcell: int
    band: str
    mjd: float
    filename: str
    shortname: str
    badflag: int
    ra: float
    dec: float
    service: str

    @property
    def skycell(self) -> str:
        """PS1's name of the skycell: ``skycell.PPPP.SSS``."""
        return f"skycell.{self.projcell:04d}.{self.subcell:03d}"

    @property
    def local_name(self) -> str:
        """The name `download_ps1_frame` gives the cutout: band, MJD and skycell."""
        cell = f"{self.projcell:04d}.{self.subcell:03d}"
        return f"ps1_warp_{self.band}_{self.mjd:.5f}_skycell{cell}.fits"

    def cutout_params(self, size_px: int) -> dict[str, str]:
        """The query of ``fitscut.cgi`` for a ``size_px`` cutout centred on the position."""
        return {
            "red": self.filename,
            "ra": f"{self.ra:.7f}",
            "dec": f"{self.dec:.7f}",
            "size": str(size_px),
            "format": "fits",
        }

    def cutout_url(self, size_px: int = DEFAULT_SIZE) -> str:
        """The URL of a ``size_px`` × ``size_px`` FITS cutout of this warp."""
        return str(httpx.URL(f"{self.service}/fitscut.cgi", params=self.cutout_params(size_px)))


def _check_position(ra: float, dec: float) -> None:
    if not (math.isfinite(ra) and math.isfinite(dec)) or not -90.0 <= dec <= 90.0:
        raise ConfigurationError(f"PS1 warp search: no such position ({ra}, {dec})")
    if dec < MIN_DEC:
        raise ConfigurationError(
            f"PS1 warp search: dec {dec:.5f}° is south of PS1's sky (it covers dec ≥ "
            f"{MIN_DEC:.0f}°); no request made",
            dec=dec,
        )


def _bands(bands: str | Sequence[str] | None) -> tuple[str, ...]:
    """PS1's bands named by ``bands`` (each a frame's or a user's band name), in PS1's order."""
    if bands is None:
        return PS1_BANDS
    asked = [bands] if isinstance(bands, str) else list(bands)
    if not asked:
        raise ConfigurationError("PS1 warp search: no band asked for")
    chosen = {match_band("PS1", PS1_BANDS, name) for name in asked}
    return tuple(b for b in PS1_BANDS if b in chosen)


def _frame(row: dict[str, str], ra: float, dec: float, base: str, where: str) -> Ps1Frame:
    try:
        return Ps1Frame(
            projcell=int(row["projcell"]),
            subcell=int(row["subcell"]),
            band=row["filter"],
            mjd=float(row["mjd"]),
            filename=row["filename"],
            shortname=row["shortname"],
            badflag=int(row["badflag"]),
            ra=ra,
            dec=dec,
            service=base,
        )
    except (KeyError, ValueError) as e:
        raise OnlineServiceError(
            f"{where}: a malformed row ({type(e).__name__}: {e}): {row}", service="ps1"
        ) from e


def search_ps1_frames(
    ra: float,
    dec: float,
    *,
    bands: str | Sequence[str] | None = None,
    start_mjd: float | None = None,
    end_mjd: float | None = None,
    base_url: str | None = None,
    timeout: float = 60.0,
) -> list[Ps1Frame]:
    """The PS1 warps that cover (``ra``, ``dec``) in ``bands`` (default all of grizy), taken
    between ``start_mjd`` and ``end_mjd`` (inclusive; open when None), not flagged bad;
    oldest first. ``base_url`` is the folder of ``ps1filenames.py`` (default: STScI's).

    Raises
    ------
    ConfigurationError
        A position south of dec −30° (before any request), a band PS1 lacks, an end
        before the start.
    OnlineServiceError
        No answer, an HTTP error, a table without the documented columns, a malformed row.
    """
    _check_position(ra, dec)
    chosen = _bands(bands)
    if start_mjd is not None and end_mjd is not None and end_mjd < start_mjd:
        raise ConfigurationError(f"PS1 warp search: end MJD {end_mjd} is before start {start_mjd}")
    base = (base_url or PS1_URL).rstrip("/")
    where = f"MAST PS1 warp list (ps1filenames.py) at {ra:.5f},{dec:.5f}"
    params = {"ra": f"{ra:.7f}", "dec": f"{dec:.7f}", "filters": "".join(chosen), "type": "warp"}
    rows = file_list(base, params, columns=_COLUMNS, timeout=timeout, where=where)
    listed = [_frame(r, ra, dec, base, where) for r in rows if r.get("type") == "warp"]
    frames = [
        f
        for f in listed
        if f.band in chosen
        and f.badflag == 0
        and (start_mjd is None or f.mjd >= start_mjd)
        and (end_mjd is None or f.mjd <= end_mjd)
    ]
    bad = sum(1 for f in listed if f.badflag != 0)
    logger.info(
        "%s: %d warp(s) listed, %d flagged bad, %d kept", where, len(listed), bad, len(frames)
    )
    return sorted(frames, key=lambda f: (f.mjd, PS1_BANDS.index(f.band), f.skycell))


def _frame_fits(frame: Ps1Frame, raw: np.ndarray, header: fits.Header, where: str) -> bytes:
    """The cutout (its pixels and a copy of its header) as the file written (module
    docstring): linear float32 counts, the header kept, the band, zero point and provenance
    added."""
    data = linear_flux(raw, header).astype(np.float32)
    for key in _DROPPED:
        header.remove(key, ignore_missing=True, remove_all=True)
    header["FILTER"] = (frame.band, "PS1 band")
    zero_point, exptime = header.get("FPA.ZP"), header.get("EXPTIME")
    if isinstance(zero_point, int | float) and isinstance(exptime, int | float) and exptime > 0:
        magzp = float(zero_point) + 2.5 * math.log10(float(exptime))
        header["MAGZP"] = (round(magzp, 4), "[mag] of 1 count: FPA.ZP + 2.5 log10(EXPTIME)")
    else:
        logger.warning("%s: no FPA.ZP or EXPTIME in the cutout; no zero point written", where)
    if "MJD-OBS" not in header:
        header["MJD-OBS"] = (frame.mjd, "[d] from the PS1 file list")
    if "RADESYS" not in header:
        header["RADESYS"] = ("FK5", "PS1 skycells: FK5 J2000 (STScI caveats)")
    if "TIMESYS" not in header:
        header["TIMESYS"] = ("TAI", "PS1 warp times are TAI (STScI FAQ)")
    header["PS1FILE"] = (frame.shortname, "the PS1 warp")
    header["SURVEY"] = (PS1_WARP, "AstrID: a PS1 warp cutout from STScI (MAST)")
    buffer = BytesIO()
    fits.PrimaryHDU(data, header).writeto(buffer, output_verify="silentfix")
    return buffer.getvalue()


def download_ps1_frame(
    frame: Ps1Frame, size_px: int, out_dir: Path, *, timeout: float = 120.0
) -> Path:
    """Fetch a ``size_px`` × ``size_px`` cutout of ``frame`` centred on the searched
    position and write it into ``out_dir`` as `Ps1Frame.local_name` (a file of that name
    is replaced); its path. Written whole or not at all.

    Raises
    ------
    ConfigurationError
        A size below 1 or above `ps1_cutouts.MAX_SIZE`.
    OnlineServiceError
        No answer, an HTTP error, an answer that is not a readable FITS image (an HTML
        error page) or holds no finite pixel; nothing is written.
    """
    if not 1 <= size_px <= MAX_SIZE:
        raise ConfigurationError(
            f"PS1 warp cutout: size {size_px} px is not between 1 and {MAX_SIZE}", size=size_px
        )
    where = f"MAST PS1 {frame.band} warp cutout (fitscut.cgi) of {frame.shortname}"
    raw, header = cutout_image(
        f"{frame.service}/fitscut.cgi",
        frame.cutout_params(size_px),
        timeout=timeout,
        where=where,
        service="ps1",
    )
    content = _frame_fits(frame, raw, header, where)
    path = Path(out_dir) / frame.local_name
    write_atomically(path, content)
    return path
