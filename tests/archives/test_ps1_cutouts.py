"""Templates of PS1 stack pixels from STScI's PS1 image cutout service (issue 19).

STScI cannot be reached from here, so a local HTTP server stands in for it (`ps1_double`):
it replays the documented protocol (https://ps1images.stsci.edu/ps1image.html): the file
list of ``ps1filenames.py`` (``projcell subcell ra dec filter mjd type filename shortname
badflag``), then a FITS cutout from ``fitscut.cgi`` on a skycell's tangent-plane grid with
``EXPTIME`` and, like the stacks, asinh-scaled pixels with ``BSOFTEN``/``BOFFSET``. The
pixels are synthetic and known exactly; no real PS1 pixel is measured here.
"""

from __future__ import annotations

import math
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from ps1_double import EXPTIME, FakePs1, _skycell_wcs, linear
from typer.testing import CliRunner

from astrid.archives import fetch_ps1_cutout, ps1_cutout_request
from astrid.archives.ps1_cutouts import MAX_SIZE, linear_flux
from astrid.catalog import connect
from astrid.catalog.observations import observation
from astrid.cli import app
from astrid.errors import ConfigurationError, OnlineServiceError
from astrid.observations.fits_reader import read_image

runner = CliRunner()


def test_a_request_covers_the_frame_turned_any_way_plus_the_margin(science: Path) -> None:
    image = read_image(science)
    request = ps1_cutout_request(image, band="r", margin=16)
    assert image.wcs is not None
    ra, dec = image.wcs.pixel_to_world_values(191.5, 191.5)
    assert request.centre == pytest.approx((float(ra), float(dec)), abs=1e-9)
    # 0.7" science pixels: two PS1 pixels (0.5") per template pixel, never coarser
    assert request.binning == 2 and request.size % 2 == 0
    half_diagonal = math.hypot(192 + 16, 192 + 16) * 0.7  # arcsec, frame + margin
    assert half_diagonal <= request.size * 0.25 / 2 <= half_diagonal + 1.0
    assert request.shape == (request.size // 2, request.size // 2)
    again = ps1_cutout_request(image, band="r", margin=16)
    assert again.digest == request.digest
    assert ps1_cutout_request(image, band="i", margin=16).digest != request.digest
    assert ps1_cutout_request(image, band="r", margin=17).digest != request.digest
    with pytest.raises(ConfigurationError, match="band 'u' is not one of the survey's"):
        ps1_cutout_request(image, band="u")
    wide = image.wcs.deepcopy()
    wide.wcs.cdelt = wide.wcs.cdelt * 20  # 14" pixels: 1.5° across
    with pytest.raises(ConfigurationError, match=f"at most {MAX_SIZE}") as caught:
        ps1_cutout_request(replace(image, wcs=wide), band="r")
    assert "science.fits" in str(caught.value)


def test_asinh_pixels_are_made_linear_only_when_scaled() -> None:
    linear_values = np.array([[-20.0, 0.0, 3.0, 1e5]])
    header = fits.Header({"BOFFSET": 7.0, "BSOFTEN": 2.5})
    scaled = 2.5 / math.log(10) * np.arcsinh((linear_values - 7.0) / (2 * 2.5))
    assert linear_flux(scaled, header) == pytest.approx(linear_values, rel=1e-12)
    assert linear_flux(linear_values, fits.Header()) is linear_values


@pytest.mark.parametrize("asinh", [True, False])
def test_the_cutout_keeps_the_stack_grid_its_linear_flux_and_zero_point(
    asinh: bool, science: Path, ps1: FakePs1
) -> None:
    ps1.asinh = asinh
    image = read_image(science)
    request = ps1_cutout_request(image, band="r", margin=16)
    data = fetch_ps1_cutout(request, base_url=ps1.url)
    (list_path, listed), (cut_path, cut) = ps1.requests
    assert list_path.endswith("/ps1filenames.py") and cut_path.endswith("/fitscut.cgi")
    assert (listed["filters"], listed["type"]) == ("r", "stack")
    assert cut["red"].endswith("skycell.1784.059.stk.r.unconv.fits")
    assert (cut["size"], cut["format"]) == (str(request.size), "fits")
    with fits.open(BytesIO(data)) as hdul:
        header, pixels = hdul[0].header, hdul[0].data.astype(float)
    # the sum of each 2×2 block of the stack's linear flux, on the stack's own grid
    y, x = np.mgrid[: request.size, : request.size].astype(float)
    expected = linear(y, x).reshape(request.shape[0], 2, request.shape[1], 2).sum(axis=(1, 3))
    assert pixels.shape == request.shape
    np.testing.assert_allclose(pixels, expected, rtol=1e-5)
    native = _skycell_wcs(request.ra, request.dec, request.size)
    binned = WCS(header)
    for i, j in [(0, 0), (10, 700), (823, 5)]:  # binned pixel (i, j) = native (2i+0.5, 2j+0.5)
        here = binned.pixel_to_world_values(i, j)
        there = native.pixel_to_world_values(2 * i + 0.5, 2 * j + 0.5)
        assert np.allclose(here, there, rtol=0, atol=1e-9)
    assert header["MAGZP"] == pytest.approx(25 + 2.5 * math.log10(EXPTIME))
    assert header["EXPTIME"] == EXPTIME and header["BINNING"] == 2 and header["TCOVER"] == 1.0
    assert header["SURVEY"] == "ps1-cutout" and header["SURVBAND"] == "r"
    assert header["IMAGETYP"] == "TEMPLATE" and "BSOFTEN" not in header
    assert header["PS1FILE"] == "rings.v3.skycell.1784.059.stk.r.unconv.fits"
    path = Path(science).with_name(f"ps1-{asinh}.fits")
    path.write_bytes(data)
    template = read_image(path)
    assert template.meta.zero_point == pytest.approx(32.5)  # AstrID's reader takes it
    assert template.meta.filter == image.meta.filter  # the frame's: one band for the checks


@pytest.mark.parametrize(
    ("list_mode", "cut_mode", "message"),
    [
        ("empty", "fits", r"file list: no r stack at \d+\.\d+, -?\d+\.\d+"),
        ("columns", "fits", "file list: no filter, type, filename column"),
        ("error", "fits", "file list: HTTP 500"),
        ("ok", "error", "HTTP 500"),
        ("ok", "html", "the answer is not a FITS image"),
        ("ok", "damaged", "the answer is not a readable FITS image"),
        ("ok", "nan", "no finite pixel"),
        ("ok", "no-wcs", "the cutout has no celestial WCS"),
    ],
)
def test_a_bad_answer_is_an_error_naming_the_survey_and_the_frame(
    list_mode: str, cut_mode: str, message: str, science: Path, ps1: FakePs1
) -> None:
    ps1.list_mode, ps1.cut_mode = list_mode, cut_mode
    request = ps1_cutout_request(read_image(science), band="r")
    with pytest.raises(OnlineServiceError, match=message) as caught:
        fetch_ps1_cutout(request, base_url=ps1.url)
    assert "PS1 r stack cutout for" in str(caught.value) and "science.fits" in str(caught.value)


def test_an_unreachable_service_is_an_error(science: Path, ps1: FakePs1) -> None:
    url = ps1.url
    ps1.server.shutdown()
    ps1.server.server_close()
    request = ps1_cutout_request(read_image(science), band="g")
    with pytest.raises(OnlineServiceError, match="ConnectError"):
        fetch_ps1_cutout(request, base_url=url, timeout=5)


def test_fetch_by_name_writes_and_registers_a_ps1_cutout(
    science: Path, ps1: FakePs1, tmp_path: Path
) -> None:
    data, out = tmp_path / "data", tmp_path / "ref.fits"
    args = ["references", "fetch", str(science), "-o", str(out), "--survey", "ps1-cutout"]
    args += ["--band", "r", "--server", ps1.url, "--data-dir", str(data), "--register"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "PS1 r stack cutout" in result.output
    template = read_image(out)
    assert template.header["SURVEY"] == "ps1-cutout" and template.meta.zero_point == 32.5
    with connect(f"sqlite:///{data / 'astrid.sqlite'}") as catalog:
        assert observation(catalog, 1).role == "reference"
    ps1.cut_mode = "html"
    bad = tmp_path / "bad.fits"
    args[4] = str(bad)
    result = runner.invoke(
        app, [*args[:7], "--band", "i", "--server", ps1.url, "--data-dir", str(data)]
    )
    assert result.exit_code == 2
    assert "PS1 i stack cutout" in result.output and "not a FITS image" in result.output
    assert not bad.exists()
