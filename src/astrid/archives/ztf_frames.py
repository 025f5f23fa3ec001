"""ZTF science frames from IRSA by position and date (IRSA's Image Browse Engine, IBE).

IRSA documents the protocol (https://irsa.ipac.caltech.edu/docs/program_interface/
ztf_api.html and ztf_metadata.html): a search at ``…/ibe/search/ztf/products/sci`` with
``POS=ra,dec`` (ICRS degrees) and an SQL-like ``WHERE`` returns the metadata of the
science exposures covering that point (``ct=csv``: as CSV); each file's URL is built from
its metadata:

    …/ibe/data/ztf/products/sci/YYYY/MMDD/FFFFFF/ztf_<filefracday>_<field:06d>_
        <filtercode>_c<ccdid:02d>_<imgtypecode>_q<qid>_sciimg.fits

`search_ztf_frames` makes the search and returns one `ZtfFrame` per exposure quadrant;
`download_frame` fetches a file, checks that it is FITS, and writes it whole or not at
all. IBE has no maintained Python client, so this speaks HTTP with httpx. A failure (no
answer, an HTTP error, a table without the documented columns, a file that is not FITS)
is an `OnlineServiceError` naming the service and the request. Public data releases need
no account; proprietary frames need IRSA credentials, which are not handled here.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import httpx

from astrid.archives.http_answers import get_ok
from astrid.atomic_files import write_atomically
from astrid.errors import ConfigurationError, OnlineServiceError

__all__ = ["IBE_URL", "ZtfFrame", "download_frame", "search_ztf_frames"]

#: IRSA's Image Browse Engine.
IBE_URL = "https://irsa.ipac.caltech.edu/ibe"
#: The metadata columns a file's URL and record need.
_COLUMNS = ("field", "ccdid", "qid", "filtercode", "filefracday", "imgtypecode", "obsjd")
#: ZTF's filter codes by band.
FILTER_CODES = {"g": "zg", "r": "zr", "i": "zi"}
_JD_MINUS_MJD = 2400000.5


@dataclass(frozen=True)
class ZtfFrame:
    """One ZTF science image (a CCD quadrant of one exposure) found by a search."""

    field: int
    ccdid: int
    qid: int
    filtercode: str
    filefracday: str
    imgtypecode: str
    mjd: float
    url: str

    @property
    def filename(self) -> str:
        """The archive's file name."""
        return self.url.rsplit("/", 1)[-1]


def _file_url(base: str, row: dict[str, str]) -> str:
    day = row["filefracday"]
    folder = f"{day[:4]}/{day[4:8]}/{day[8:14]}"
    name = (
        f"ztf_{day}_{int(row['field']):06d}_{row['filtercode']}_c{int(row['ccdid']):02d}_"
        f"{row['imgtypecode']}_q{int(row['qid'])}_sciimg.fits"
    )
    return f"{base}/data/ztf/products/sci/{folder}/{name}"


def search_ztf_frames(
    ra: float,
    dec: float,
    *,
    start_mjd: float | None = None,
    end_mjd: float | None = None,
    band: str | None = None,
    base_url: str = IBE_URL,
    timeout: float = 60.0,
) -> list[ZtfFrame]:
    """The ZTF science images that contain (``ra``, ``dec``), taken between the MJDs given,
    in ``band`` (g, r or i) when given, oldest first.

    Raises
    ------
    ConfigurationError
        A band ZTF does not have, or an end before the start.
    OnlineServiceError
        No answer, an HTTP error, or a table without the documented columns.
    """
    if band is not None and band not in FILTER_CODES:
        raise ConfigurationError(
            f"ZTF band {band!r}: expected one of {', '.join(FILTER_CODES)}", band=band
        )
    if start_mjd is not None and end_mjd is not None and end_mjd < start_mjd:
        raise ConfigurationError(f"ZTF search: end MJD {end_mjd} is before start {start_mjd}")
    where = []
    if start_mjd is not None:
        where.append(f"obsjd>={start_mjd + _JD_MINUS_MJD}")
    if end_mjd is not None:
        where.append(f"obsjd<={end_mjd + _JD_MINUS_MJD}")
    if band is not None:
        where.append(f"filtercode='{FILTER_CODES[band]}'")
    params = {"POS": f"{ra:.7f},{dec:.7f}", "ct": "csv"}
    if where:
        params["WHERE"] = " AND ".join(where)
    url = f"{base_url}/search/ztf/products/sci"
    where_text = f"IRSA ZTF search at {ra:.5f},{dec:.5f}"
    response = get_ok(url, params, timeout=timeout, where=where_text, service="irsa")
    lines = response.text.splitlines()
    header = next(csv.reader(lines[:1]), [])
    missing = [c for c in _COLUMNS if c not in header]
    if missing:
        raise OnlineServiceError(
            f"{where_text}: the answer is not the documented table (no {', '.join(missing)})",
            service="irsa",
        )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    frames = []
    for row in rows:
        try:
            frames.append(
                ZtfFrame(
                    field=int(row["field"]),
                    ccdid=int(row["ccdid"]),
                    qid=int(row["qid"]),
                    filtercode=row["filtercode"],
                    filefracday=row["filefracday"],
                    imgtypecode=row["imgtypecode"],
                    mjd=float(row["obsjd"]) - _JD_MINUS_MJD,
                    url=_file_url(base_url, row),
                )
            )
        except (KeyError, ValueError) as e:
            raise OnlineServiceError(f"{where_text}: a malformed row ({e})", service="irsa") from e
    return sorted(frames, key=lambda f: f.mjd)


def download_frame(frame: ZtfFrame, folder: Path, *, timeout: float = 120.0) -> Path:
    """Download one science image into ``folder`` (kept when already there); its path.

    Raises
    ------
    OnlineServiceError
        No answer, an HTTP error, or bytes that are not a FITS file (nothing is written).
    """
    path = Path(folder) / frame.filename
    if path.exists():
        return path
    try:
        response = httpx.get(frame.url, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as e:
        raise OnlineServiceError(
            f"{frame.filename}: {type(e).__name__} ({e})", service="irsa", url=frame.url
        ) from e
    if response.status_code != 200 or not response.content.startswith(b"SIMPLE  ="):
        raise OnlineServiceError(
            f"{frame.filename}: HTTP {response.status_code}, not a FITS file "
            f"(starts {response.content[:40]!r})",
            service="irsa",
            url=frame.url,
        )
    write_atomically(path, response.content)
    return path
