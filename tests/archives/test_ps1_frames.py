"""PS1 single-epoch warps from MAST by position and date (issue 19).

MAST cannot be reached from here: `ps1_frames_double` replays the recorded formats of
STScI's ``ps1filenames.py`` (``type=warp``) and ``fitscut.cgi`` with synthetic pixels and
a PS1 warp header; nothing here was run against MAST itself.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from astropy.io import fits
from local_http import serving
from ps1_frames_double import EXPTIME, FPA_ZP, GAP_COLUMNS, FakePs1Warps, counts
from typer.testing import CliRunner

from astrid.archives.ps1_frames import Ps1Frame, download_ps1_frame, search_ps1_frames
from astrid.cli import app
from astrid.errors import ConfigurationError, OnlineServiceError
from astrid.observations.fits_reader import read_image

runner = CliRunner()

RA, DEC = 150.1, 2.2
R_WARP = "/rings.v3.skycell/1784/059/rings.v3.skycell.1784.059.wrp.r.56001_37820.fits"


@pytest.fixture()
def warps() -> Iterator[FakePs1Warps]:
    fake = FakePs1Warps()
    with serving(fake.server):
        yield fake


def _first_r(warps: FakePs1Warps) -> Ps1Frame:
    found = search_ps1_frames(RA, DEC, bands="r", base_url=warps.url)
    warps.requests.clear()
    return found[0]


def test_a_search_asks_for_warps_and_keeps_the_date_window_and_good_frames(
    warps: FakePs1Warps,
) -> None:
    found = search_ps1_frames(
        RA, DEC, bands="r", start_mjd=56000.0, end_mjd=56010.0, base_url=warps.url
    )

    ((path, query),) = warps.requests
    assert path == "/cgi-bin/ps1filenames.py"
    assert query == {"ra": "150.1000000", "dec": "2.2000000", "filters": "r", "type": "warp"}
    # the r warp flagged bad (MJD 56002.40011) is dropped; the neighbouring skycell's kept
    assert [(f.mjd, f.skycell) for f in found] == [
        (56001.3782, "skycell.1784.059"),
        (56002.41288, "skycell.1784.060"),
    ]
    first = found[0]
    assert (first.projcell, first.subcell, first.band, first.badflag) == (1784, 59, "r", 0)
    assert first.filename == R_WARP
    assert first.shortname == R_WARP.rsplit("/", 1)[-1]
    url = urlparse(first.cutout_url(300))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{warps.url}/fitscut.cgi"
    assert parse_qs(url.query) == {
        "red": [R_WARP],
        "ra": ["150.1000000"],
        "dec": ["2.2000000"],
        "size": ["300"],
        "format": ["fits"],
    }


def test_the_window_bounds_are_inclusive_and_each_may_be_open(warps: FakePs1Warps) -> None:
    def mjds(start: float | None, end: float | None) -> list[float]:
        found = search_ps1_frames(RA, DEC, start_mjd=start, end_mjd=end, base_url=warps.url)
        return [f.mjd for f in found]

    assert mjds(None, 55580.51874) == [55580.51874]
    assert mjds(56650.24117, None) == [56650.24117, 56980.30555]
    assert mjds(56003.0, 56600.0) == []
    with pytest.raises(ConfigurationError, match="before start"):
        mjds(2.0, 1.0)


def test_bands_default_to_grizy_and_names_are_mapped_to_ps1s(warps: FakePs1Warps) -> None:
    found = search_ps1_frames(RA, DEC, base_url=warps.url)
    assert warps.requests[-1][1]["filters"] == "grizy"
    # oldest first; one per good warp listed
    assert [(f.band, f.mjd) for f in found] == [
        ("g", 55580.51874),
        ("i", 55580.53012),
        ("r", 56001.3782),
        ("r", 56002.41288),
        ("z", 56650.24117),
        ("y", 56980.30555),
    ]
    found = search_ps1_frames(RA, DEC, bands=["i'", "SDSS g"], base_url=warps.url)
    assert warps.requests[-1][1]["filters"] == "gi"
    assert {f.band for f in found} == {"g", "i"}
    asked = len(warps.requests)
    with pytest.raises(ConfigurationError, match="band 'u' is not one of the survey's"):
        search_ps1_frames(RA, DEC, bands="u", base_url=warps.url)
    assert len(warps.requests) == asked  # refused before any request


@pytest.mark.parametrize("asinh", [True, False], ids=["asinh-scaled", "linear"])
def test_a_download_writes_a_readable_frame_in_linear_counts_with_its_zero_point(
    warps: FakePs1Warps, tmp_path: Path, asinh: bool
) -> None:
    warps.asinh = asinh
    frame = _first_r(warps)
    path = download_ps1_frame(frame, 64, tmp_path)

    ((cut_path, query),) = warps.requests
    assert cut_path == "/cgi-bin/fitscut.cgi"
    assert query == {
        "red": R_WARP,
        "ra": "150.1000000",
        "dec": "2.2000000",
        "size": "64",
        "format": "fits",
    }
    assert path.name == "ps1_warp_r_56001.37820_skycell1784.059.fits"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it
    with fits.open(path) as hdul:
        header, data = hdul[0].header, hdul[0].data
        assert data.dtype.kind == "f" and data.dtype.itemsize == 4 and data.shape == (64, 64)
        y, x = np.mgrid[:64, :64].astype(float)
        expected = counts(y, x)
        expected[:, list(GAP_COLUMNS)] = np.nan
        np.testing.assert_allclose(data, expected, rtol=2e-6, atol=1e-3, equal_nan=True)
        assert "BSOFTEN" not in header and "BOFFSET" not in header
        zero_point = FPA_ZP["r"] + 2.5 * math.log10(EXPTIME["r"])
        assert header["MAGZP"] == pytest.approx(zero_point, abs=1e-4)
        assert header["FPA.ZP"] == FPA_ZP["r"] and header["EXPTIME"] == EXPTIME["r"]
        assert header["FILTER"] == "r" and header["SURVEY"] == "ps1-warp"
        assert header["PS1FILE"] == frame.shortname
        assert header["MJD-OBS"] == pytest.approx(56001.3782) and header["TIMESYS"] == "TAI"
    image = read_image(path)  # AstrID reads it: WCS, band, date, zero point, the gap masked
    assert image.wcs is not None and image.shape == (64, 64)
    assert image.meta.zero_point == pytest.approx(zero_point, abs=1e-4)
    assert image.meta.filter == "r" and image.meta.mjd == pytest.approx(56001.3782)
    assert image.mask[:, list(GAP_COLUMNS)].all() and not image.mask[:, 7:].any()
    centre = image.wcs.pixel_to_world_values(31.5, 31.5)
    assert centre == pytest.approx((RA, DEC), abs=1e-7)


def test_a_cutout_without_a_zero_point_is_written_without_magzp(
    warps: FakePs1Warps, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    warps.cut_mode = "no-zp"
    frame = _first_r(warps)
    with caplog.at_level(logging.WARNING, logger="astrid.archives.ps1_frames"):
        path = download_ps1_frame(frame, 40, tmp_path)
    assert "MAGZP" not in fits.getheader(path)
    assert "no FPA.ZP or EXPTIME in the cutout" in caplog.text


@pytest.mark.parametrize(
    ("cut_mode", "message"),
    [
        ("error", "HTTP 500"),
        ("html", "the answer is not a FITS image"),
        ("damaged", "the answer is not a readable FITS image"),
        ("nan", "no finite pixel"),
    ],
)
def test_a_bad_cutout_is_an_error_naming_the_service_and_nothing_is_written(
    warps: FakePs1Warps, tmp_path: Path, cut_mode: str, message: str
) -> None:
    frame = _first_r(warps)
    warps.cut_mode = cut_mode
    with pytest.raises(OnlineServiceError, match=message) as caught:
        download_ps1_frame(frame, 64, tmp_path)
    assert "MAST PS1 r warp cutout (fitscut.cgi) of rings.v3.skycell.1784.059" in str(caught.value)
    assert caught.value.service == "ps1"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("list_mode", "message"),
    [
        ("error", "HTTP 500"),
        ("html", "no projcell, subcell, filter, mjd, type, filename, shortname, badflag column"),
        ("columns", "no mjd, type, filename, shortname, badflag column"),
        ("malformed", "a malformed row"),
    ],
)
def test_a_bad_file_list_is_an_error_naming_the_service_and_the_request(
    warps: FakePs1Warps, list_mode: str, message: str
) -> None:
    warps.list_mode = list_mode
    with pytest.raises(OnlineServiceError, match=message) as caught:
        search_ps1_frames(RA, DEC, base_url=warps.url)
    assert "MAST PS1 warp list (ps1filenames.py) at 150.10000,2.20000" in str(caught.value)
    assert caught.value.service == "ps1"


def test_an_empty_list_is_no_frame_and_an_unreachable_service_an_error(
    warps: FakePs1Warps,
) -> None:
    warps.list_mode = "empty"
    assert search_ps1_frames(RA, DEC, base_url=warps.url) == []
    warps.server.shutdown()
    warps.server.server_close()
    with pytest.raises(OnlineServiceError, match="ConnectError"):
        search_ps1_frames(RA, DEC, base_url=warps.url, timeout=5)


def test_positions_outside_ps1s_sky_and_bad_sizes_are_refused_before_any_request(
    warps: FakePs1Warps, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match=r"dec -30\.50000° is south of PS1's sky"):
        search_ps1_frames(RA, -30.5, base_url=warps.url)
    with pytest.raises(ConfigurationError, match="no such position"):
        search_ps1_frames(RA, 91.0, base_url=warps.url)
    assert warps.requests == []
    assert search_ps1_frames(RA, -30.0, bands="g", base_url=warps.url)  # the edge is in
    frame = _first_r(warps)
    for size in (0, 6001):
        with pytest.raises(ConfigurationError, match=f"size {size} px"):
            download_ps1_frame(frame, size, tmp_path)
    assert warps.requests == [] and list(tmp_path.iterdir()) == []


def test_the_command_downloads_the_frames_of_the_window(
    warps: FakePs1Warps, tmp_path: Path
) -> None:
    out = tmp_path / "PS1"
    args = ["references", "ps1-frames", "--ra", "150.1", "--dec", "2.2", "-o", str(out)]
    window = ["--start-mjd", "56000", "--end-mjd", "56010", "--band", "r", "--size", "48"]
    result = runner.invoke(app, [*args, *window, "--server", warps.url], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert "2 PS1 warp frame(s) cover 150.10000, 2.20000" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "ps1_warp_r_56001.37820_skycell1784.059.fits",
        "ps1_warp_r_56002.41288_skycell1784.060.fits",
    ]
    assert read_image(out / "ps1_warp_r_56001.37820_skycell1784.059.fits").shape == (48, 48)

    empty = tmp_path / "none"
    window = ["--start-mjd", "57000", "--band", "g"]
    result = runner.invoke(app, [*args[:-1], str(empty), *window, "--server", warps.url])
    assert result.exit_code == 0, result.output
    assert "no PS1 warp frame covers 150.10000, 2.20000 in g from MJD 57000" in result.output
    assert not empty.exists()

    south = ["references", "ps1-frames", "--ra", "150.1", "--dec", "-45", "-o", str(empty)]
    result = runner.invoke(app, [*south, "--server", warps.url], terminal_width=300)
    assert result.exit_code == 2 and "south of PS1's sky" in result.output

    warps.list_mode = "error"
    result = runner.invoke(app, [*args, "--server", warps.url], terminal_width=300)
    assert result.exit_code == 2 and "HTTP 500" in result.output
