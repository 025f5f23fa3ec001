"""Templates of Legacy Survey DR10 pixels from the Legacy Survey viewer's FITS cutouts
(issue 19).

The viewer cannot be reached from here, so a local HTTP server stands in for it
(`legacy_double`). Its answers are built from the documented format, not recorded from the
live service: the request (``fits-cutout?ra=&dec=&layer=ls-dr10&pixscale=0.262&size=&
bands=``) and the pixel unit (nanomaggies, AB zero point 22.5, at pixscale 0.262:
https://www.legacysurvey.org/svtips/), and, from the viewer's code (legacysurvey/imagine,
``map/views.py``), the TAN WCS centred on the position, the band keywords, the 3000-pixel
cap applied without a word, the cube answered for a band it does not know and 0 where no
coadd covers the sky. The pixels are synthetic (a ramp and one star of known magnitude);
no real Legacy Survey pixel is measured here.
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
from astropy.wcs.utils import proj_plane_pixel_scales
from legacy_double import STAR_FLUX, STAR_MAG, FakeLegacySurvey, cutout_header, ramp
from typer.testing import CliRunner

from astrid.archives import (
    LegacyCutoutRequest,
    fetch_legacy_cutout,
    legacy_cutout_request,
    template_request_for,
)
from astrid.archives.legacy_cutouts import LEGACY_MAX_SIZE, LEGACY_PIXEL_SCALE
from astrid.catalog import connect
from astrid.catalog.observations import observation
from astrid.cli import app
from astrid.errors import ConfigurationError, OnlineServiceError
from astrid.observations.fits_reader import read_image

runner = CliRunner()


def test_a_request_covers_the_frame_plus_the_margin_on_native_pixels(science: Path) -> None:
    image = read_image(science)
    request = legacy_cutout_request(image, band="r", margin=16)
    assert image.wcs is not None
    ra, dec = image.wcs.pixel_to_world_values(191.5, 191.5)
    assert request.centre == pytest.approx((float(ra), float(dec)), abs=1e-9)
    # 0.7" science pixels: two 0.262" pixels (0.524") per template pixel, never coarser
    assert request.binning == 2 and request.size % 2 == 0
    half_diagonal = math.hypot(192 + 16, 192 + 16) * 0.7  # arcsec, frame + margin
    assert half_diagonal <= request.size * LEGACY_PIXEL_SCALE / 2 <= half_diagonal + 1.0
    assert request.shape == (request.size // 2, request.size // 2)
    assert legacy_cutout_request(image, band="r", margin=16).digest == request.digest
    assert legacy_cutout_request(image, band="i", margin=16).digest != request.digest
    assert legacy_cutout_request(image, band="r", margin=17).digest != request.digest
    by_name = template_request_for(image, "legacy-cutout", band="z")
    assert isinstance(by_name, LegacyCutoutRequest) and by_name.band == "z"
    assert by_name.digest != template_request_for(image, "ps1-cutout", band="z").digest


@pytest.mark.parametrize("band", ["u", "y", "Y", "W1"])
def test_a_band_dr10_lacks_is_refused_by_name(band: str, science: Path) -> None:
    with pytest.raises(ConfigurationError, match=f"band '{band}' is not one of") as caught:
        legacy_cutout_request(read_image(science), band=band)
    assert "legacy-cutout" in str(caught.value) and "g, r, i, z" in str(caught.value)


def test_a_frame_wider_than_the_viewer_cuts_is_refused_with_its_size(science: Path) -> None:
    image = read_image(science)
    assert image.wcs is not None
    wide = image.wcs.deepcopy()
    wide.wcs.cdelt = wide.wcs.cdelt * 4  # 2.8" pixels: 18' across, 25' on the diagonal
    with pytest.raises(ConfigurationError, match=f"at most {LEGACY_MAX_SIZE} ") as caught:
        legacy_cutout_request(replace(image, wcs=wide), band="r")
    message = str(caught.value)
    assert "science.fits" in message and "Legacy Survey cutout" in message
    assert caught.value.size > LEGACY_MAX_SIZE and f"{caught.value.size} pixels" in message


def test_the_cutout_keeps_its_grid_nanomaggies_and_zero_point(
    science: Path, legacy: FakeLegacySurvey, tmp_path: Path
) -> None:
    image = read_image(science)
    request = legacy_cutout_request(image, band="r", margin=16)
    data = fetch_legacy_cutout(request, base_url=legacy.url)
    ((path, query),) = legacy.requests
    assert path == "/viewer/fits-cutout"
    assert (query["layer"], query["bands"], query["pixscale"]) == ("ls-dr10", "r", "0.262")
    assert query["size"] == str(request.size)
    with fits.open(BytesIO(data)) as hdul:
        header, pixels = hdul[0].header, hdul[0].data.astype(float)
    # the sum of each 2×2 block of the answer, on the answer's own grid
    y, x = np.mgrid[: request.size, : request.size].astype(float)
    sky = ramp(y, x).reshape(request.shape[0], 2, request.shape[1], 2).sum(axis=(1, 3))
    assert pixels.shape == request.shape
    star = pixels - sky
    assert star.sum() == pytest.approx(STAR_FLUX, rel=1e-4)
    far = np.abs(star) < 1e-3  # all but the few pixels of the star: the sky, summed
    assert far.sum() > far.size - 50
    np.testing.assert_allclose(pixels[far], sky[far], rtol=1e-5)
    native = WCS(cutout_header(request.ra, request.dec, LEGACY_PIXEL_SCALE, request.size))
    binned = WCS(header)
    for i, j in [(0, 0), (10, 700), (780, 5)]:  # binned pixel (i, j) = native (2i+0.5, 2j+0.5)
        here = binned.pixel_to_world_values(i, j)
        there = native.pixel_to_world_values(2 * i + 0.5, 2 * j + 0.5)
        assert np.allclose(here, there, rtol=0, atol=1e-9)
    assert header["MAGZP"] == 22.5 and header["LSLAYER"] == "ls-dr10"
    assert header["BINNING"] == 2 and header["TCOVER"] == 1.0
    assert header["SURVEY"] == "legacy-cutout" and header["SURVBAND"] == "r"
    assert header["IMAGETYP"] == "TEMPLATE"
    path_out = tmp_path / "legacy.fits"
    path_out.write_bytes(data)
    template = read_image(path_out)
    assert template.meta.zero_point == 22.5  # AstrID's reader takes it
    assert template.meta.filter == image.meta.filter  # the frame's: one band for the checks
    assert template.wcs is not None  # the pixel scale reaches the template in its WCS
    assert proj_plane_pixel_scales(template.wcs) * 3600 == pytest.approx([0.524, 0.524])
    magnitude = template.meta.zero_point - 2.5 * math.log10(star.sum())
    assert magnitude == pytest.approx(STAR_MAG, abs=1e-4)


def test_sky_no_coadd_covers_is_masked(science: Path, legacy: FakeLegacySurvey) -> None:
    legacy.mode = "half"  # the viewer leaves 0 where no coadd is (its code)
    request = legacy_cutout_request(read_image(science), band="g")
    with fits.open(BytesIO(fetch_legacy_cutout(request, base_url=legacy.url))) as hdul:
        header, pixels = hdul[0].header, hdul[0].data
    half = request.shape[1] // 2  # (a block with one empty pixel is empty)
    assert np.isnan(pixels[:, :half]).all() and np.isfinite(pixels[:, half + 1 :]).all()
    assert 0.4 < header["TCOVER"] < 0.6


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("error", "HTTP 500, '<html><title>Server Error"),
        ("html", "the answer is not a FITS image"),
        ("damaged", "the answer is not a readable FITS image"),
        ("empty", r"the cutout covers none of the frame \(layer ls-dr10\)"),
        ("pixscale", "pixels of 0.5240″, asked for 0.262″"),
        ("cube", "the answer holds no 2-D image"),
        ("clipped", r"image of shape \(1000, 1000\), asked for \d+×\d+"),
    ],
)
def test_a_bad_answer_is_an_error_naming_the_survey_and_the_frame(
    mode: str, message: str, science: Path, legacy: FakeLegacySurvey
) -> None:
    legacy.mode = mode
    if mode == "clipped":
        legacy.max_size = 1000  # a cap the request exceeds: answered smaller, silently
    request = legacy_cutout_request(read_image(science), band="r")
    with pytest.raises(OnlineServiceError, match=message) as caught:
        fetch_legacy_cutout(request, base_url=legacy.url)
    assert "Legacy Survey ls-dr10 r cutout for" in str(caught.value)
    assert "science.fits" in str(caught.value)
    assert caught.value.service == "legacysurvey"


def test_an_unreachable_service_is_an_error(science: Path, legacy: FakeLegacySurvey) -> None:
    url = legacy.url
    legacy.server.shutdown()
    legacy.server.server_close()
    request = legacy_cutout_request(read_image(science), band="i")
    with pytest.raises(OnlineServiceError, match=r"Legacy Survey ls-dr10 i cutout.*ConnectError"):
        fetch_legacy_cutout(request, base_url=url, timeout=5)


def test_fetch_by_name_writes_and_registers_a_legacy_cutout(
    science: Path, legacy: FakeLegacySurvey, tmp_path: Path
) -> None:
    data, out = tmp_path / "data", tmp_path / "ref.fits"
    args = ["references", "fetch", str(science), "-o", str(out), "--survey", "legacy-cutout"]
    args += ["--server", legacy.url, "--data-dir", str(data)]
    result = runner.invoke(app, [*args, "--register"])  # band from the frame's FILTER (r)
    assert result.exit_code == 0, result.output
    assert "Legacy Survey ls-dr10 r cutout" in result.output
    template = read_image(out)
    assert template.header["SURVEY"] == "legacy-cutout" and template.meta.zero_point == 22.5
    with connect(f"sqlite:///{data / 'astrid.sqlite'}") as catalog:
        assert observation(catalog, 1).role == "reference"
    bad = tmp_path / "bad.fits"
    args[4] = str(bad)
    result = runner.invoke(app, [*args, "--band", "y"])
    assert result.exit_code == 2
    text = result.output.replace("\n", "")
    assert "legacy-cutout" in text and "band 'y'" in text
    legacy.mode = "html"
    result = runner.invoke(app, [*args, "--band", "i"])
    assert result.exit_code == 2
    assert "Legacy Survey ls-dr10 i cutout" in result.output
    assert "not a FITS image" in result.output
    assert not bad.exists()
