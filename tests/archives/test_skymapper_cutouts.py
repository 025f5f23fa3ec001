"""Templates of SkyMapper DR4 pixels from SkyMapper's SIAP (issue 19).

The service cannot be reached from here, so a local HTTP server stands in for it
(`skymapper_double`). Its answers are built from the documented format, not recorded from
the live service: the two requests (``query?POS=&SIZE=&BAND=&FORMAT=image/fits&
INTERSECT=covers&RESPONSEFORMAT=VOTABLE`` and ``get_image?IMAGE=&SIZE=&POS=&FORMAT=fits``:
https://skymapper.anu.edu.au/how-to-access/), a SIAP 1.0 VOTable with SkyMapper's columns
as its users name them, cutouts on one CCD's grid with a TPV WCS and ``ZPAPPROX``. The
pixels are synthetic (a sky in ADU and one star of known magnitude); no real SkyMapper
pixel is measured here.
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
from skymapper_double import (
    BEST,
    IMAGES,
    SATURATE,
    STAR_MAG,
    FakeSkyMapper,
    cutout_grid,
    sky,
)
from typer.testing import CliRunner

from astrid.archives import (
    SURVEY_NAMES,
    SkyMapperCutoutRequest,
    fetch_archive_template,
    fetch_skymapper_cutout,
    skymapper_cutout_request,
    template_request_for,
)
from astrid.archives.skymapper_cutouts import (
    SKYMAPPER_MAX_SIZE,
    SKYMAPPER_PIXEL_SCALE,
    SkyMapperImage,
    best_image,
)
from astrid.catalog import connect
from astrid.catalog.observations import observation
from astrid.cli import app
from astrid.errors import ConfigurationError, OnlineServiceError
from astrid.observations.fits_reader import read_image

runner = CliRunner()


def _image(image_id: str, band: str, exptime: float | None, fwhm: float | None) -> SkyMapperImage:
    return SkyMapperImage(image_id, band, 58000.0, exptime, fwhm, 28.6)


def _open(data: bytes) -> tuple[fits.Header, np.ndarray]:
    with fits.open(BytesIO(data)) as hdul:
        return hdul[0].header, hdul[0].data.astype(float)


def test_a_request_covers_the_frame_plus_the_margin_on_native_pixels(science: Path) -> None:
    image = read_image(science)
    request = skymapper_cutout_request(image, band="r", margin=16)
    assert image.wcs is not None
    ra, dec = image.wcs.pixel_to_world_values(191.5, 191.5)
    assert request.centre == pytest.approx((float(ra), float(dec)), abs=1e-9)
    # 0.7" science pixels hold one 0.497" pixel: not binned
    assert request.binning == 1 and request.shape == (request.size, request.size)
    half_diagonal = math.hypot(192 + 16, 192 + 16) * 0.7  # arcsec, frame + margin
    assert half_diagonal <= request.size * SKYMAPPER_PIXEL_SCALE / 2 <= half_diagonal + 1.0
    assert request.size_deg == pytest.approx(request.size * 0.497 / 3600)
    assert skymapper_cutout_request(image, band="r", margin=16).digest == request.digest
    assert skymapper_cutout_request(image, band="g", margin=16).digest != request.digest
    assert skymapper_cutout_request(image, band="r", margin=17).digest != request.digest
    by_name = template_request_for(image, "skymapper-cutout", band="i")
    assert isinstance(by_name, SkyMapperCutoutRequest) and by_name.band == "i"
    assert by_name.source == "SkyMapper DR4 i cutout"
    assert by_name.digest != template_request_for(image, "legacy-cutout", band="i").digest


@pytest.mark.parametrize(
    ("given", "band"),
    [("r'", "r"), ("SDSS g", "g"), ("i_sdss", "i"), ("zp", "z"), ("u", "u"), ("v", "v")],
)
def test_the_frame_s_band_is_mapped_to_skymapper_s(given: str, band: str, science: Path) -> None:
    assert skymapper_cutout_request(read_image(science), band=given).band == band


@pytest.mark.parametrize("band", ["y", "Y", "V", "Johnson V", "W1"])
def test_a_band_skymapper_lacks_is_refused_by_name(band: str, science: Path) -> None:
    # Johnson V (550 nm) is not SkyMapper's violet v (384 nm)
    with pytest.raises(ConfigurationError, match=f"band '{band}' is not one of") as caught:
        skymapper_cutout_request(read_image(science), band=band)
    message = str(caught.value)
    assert "skymapper-cutout" in message and "u, v, g, r, i, z; v only as spelled" in message


def test_a_frame_wider_than_the_siap_cuts_is_refused_with_its_size(science: Path) -> None:
    image = read_image(science)
    assert image.wcs is not None
    wide = image.wcs.deepcopy()
    wide.wcs.cdelt = wide.wcs.cdelt * 4  # 2.8" pixels: 18' across
    with pytest.raises(ConfigurationError, match=f"at most {SKYMAPPER_MAX_SIZE} ") as caught:
        skymapper_cutout_request(replace(image, wcs=wide), band="r")
    message = str(caught.value)
    assert "science.fits" in message and "SkyMapper cutout" in message and "(10.0′)" in message
    assert caught.value.size > SKYMAPPER_MAX_SIZE


def test_the_best_image_is_the_sharpest_of_the_deepest() -> None:
    images = [
        _image("a-short", "r", 5.0, 1.2),  # sharpest, but shallow
        _image("b-main", "r", 100.0, 2.4),
        _image("c-main", "r", 100.0, 1.9),
        _image("d-main", "r", 100.0, None),  # seeing unknown: last among the deep
        _image("e-other", "g", 100.0, 1.1),  # another band
        _image("f-unknown", "r", None, 0.9),  # no exposure time
    ]
    assert best_image(images, "r") == images[2]
    assert best_image(images[:2] + images[3:], "r") == images[1]
    assert best_image([images[3], images[0]], "r") == images[3]
    assert best_image(images, "g") == images[4]
    assert best_image(images, "i") is None and best_image(images[5:], "r") is None


def test_the_cutout_keeps_the_ccd_grid_adu_and_zero_point(
    science: Path, skymapper: FakeSkyMapper, tmp_path: Path
) -> None:
    image = read_image(science)
    request = skymapper_cutout_request(image, band="r", margin=16)
    data = fetch_skymapper_cutout(request, base_url=skymapper.url)
    (query_path, query), (cut_path, cut) = skymapper.requests
    assert (query_path, cut_path) == ("/siap/dr4/query", "/siap/dr4/get_image")
    position = f"{request.ra:.7f},{request.dec:.7f}"
    assert (query["POS"], query["BAND"], query["INTERSECT"]) == (position, "r", "covers")
    assert (query["FORMAT"], query["RESPONSEFORMAT"]) == ("image/fits", "VOTABLE")
    assert float(query["SIZE"]) == pytest.approx(request.size * 0.497 / 3600, abs=1e-6)
    assert cut == {"IMAGE": BEST.image_id, "SIZE": query["SIZE"], "POS": position, "FORMAT": "fits"}
    header, pixels = _open(data)
    y, x = np.mgrid[: pixels.shape[0], : pixels.shape[1]].astype(float)
    star = pixels - sky(y, x)  # ADU as answered: the sky is not subtracted
    far = np.abs(star) < 1e-2
    assert far.sum() > far.size - 400
    ccd, x0, y0 = cutout_grid(request.ra, request.dec, float(query["SIZE"]))
    template_wcs = WCS(header)
    for i, j in [(0, 0), (10, 700), (780, 5)]:  # the CCD's pixel (x0 + i, y0 + j), TPV kept
        here = template_wcs.pixel_to_world_values(i, j)
        assert np.allclose(here, ccd.pixel_to_world_values(x0 + i, y0 + j), rtol=0, atol=1e-9)
    assert header["CTYPE1"] == "RA---TPV" and header["TCOVER"] == 1.0
    assert header["SURVEY"] == "skymapper-cutout" and header["SURVBAND"] == "r"
    assert header["SMIMAGE"] == BEST.image_id and header["MJD-OBS"] == BEST.mjd_obs
    assert header["EXPTIME"] == 100.0 and header["SEEING"] == 1.91
    assert header["MAGZP"] == BEST.header_zp  # the header's ZPAPPROX, not the row's rounding
    assert header["SATURATE"] == SATURATE and header["IMAGETYP"] == "TEMPLATE"
    out = tmp_path / "skymapper.fits"
    out.write_bytes(data)
    template = read_image(out)
    assert template.meta.zero_point == BEST.header_zp
    assert template.meta.fwhm == pytest.approx(1.91 / SKYMAPPER_PIXEL_SCALE, rel=1e-4)
    assert template.meta.mjd == BEST.mjd_obs and template.meta.saturation == SATURATE
    assert template.meta.filter == image.meta.filter
    magnitude = template.meta.zero_point - 2.5 * math.log10(star.sum())
    assert magnitude == pytest.approx(STAR_MAG, abs=1e-5)


def test_a_binned_cutout_keeps_the_tpv_grid_and_the_flux(
    science: Path, skymapper: FakeSkyMapper
) -> None:
    request = skymapper_cutout_request(read_image(science), band="r", binning=2)
    header, pixels = _open(fetch_skymapper_cutout(request, base_url=skymapper.url))
    size = float(skymapper.requests[-1][1]["SIZE"])
    ccd, x0, y0 = cutout_grid(request.ra, request.dec, size)
    binned = WCS(header)
    for i, j in [(0, 0), (10, 400), (420, 5)]:  # binned (i, j) = native (2i + 0.5, 2j + 0.5)
        here = binned.pixel_to_world_values(i, j)
        there = ccd.pixel_to_world_values(x0 + 2 * i + 0.5, y0 + 2 * j + 0.5)
        assert np.allclose(here, there, rtol=0, atol=1e-9)
    n = pixels.shape[0] * 2
    y, x = np.mgrid[:n, :n].astype(float)
    blocks = sky(y, x).reshape(n // 2, 2, n // 2, 2).sum(axis=(1, 3))
    flux = (pixels - blocks).sum()
    assert header["MAGZP"] - 2.5 * math.log10(flux) == pytest.approx(STAR_MAG, abs=1e-4)
    assert header["BINNING"] == 2 and header["FWHM"] == pytest.approx(1.91 / 0.994, rel=1e-4)


def test_without_zpapprox_in_the_cutout_the_rows_zero_point_is_used(
    science: Path, skymapper: FakeSkyMapper
) -> None:
    skymapper.mode = "no-zp"
    request = skymapper_cutout_request(read_image(science), band="r")
    header, _ = _open(fetch_skymapper_cutout(request, base_url=skymapper.url))
    assert header["MAGZP"] == BEST.zpapprox and "SIAP row" in header.comments["MAGZP"]


def test_sky_without_an_image_is_an_error_naming_position_band_and_survey(
    science: Path, skymapper: FakeSkyMapper
) -> None:
    skymapper.mode = "none"
    request = skymapper_cutout_request(read_image(science), band="z")
    with pytest.raises(OnlineServiceError, match="no z image covers the") as caught:
        fetch_skymapper_cutout(request, base_url=skymapper.url)
    message = str(caught.value)
    assert "SkyMapper DR4 z cutout for" in message and "science.fits" in message
    assert f"at {request.ra:.5f}, {request.dec:+.5f}" in message and "southern sky" in message
    assert caught.value.service == "skymapper"
    assert [path for path, _ in skymapper.requests] == ["/siap/dr4/query"]


@pytest.mark.parametrize(
    ("mode", "endpoint", "message"),
    [
        ("list-html", "query", "the answer is not a VOTable"),
        ("list-error", "query", "answered an error: SIZE.0. must be between 0 and 0.17 deg"),
        ("columns", "query", "no mean_fwhm column in the answer"),
        ("html", "get_image", "the answer is not a FITS image"),
        ("error", "get_image", "HTTP 500, '<html><title>500"),
        ("damaged", "get_image", "the answer is not a readable FITS image"),
    ],
)
def test_a_bad_answer_is_an_error_naming_the_survey_the_frame_and_the_url(
    mode: str, endpoint: str, message: str, science: Path, skymapper: FakeSkyMapper
) -> None:
    skymapper.mode = mode
    request = skymapper_cutout_request(read_image(science), band="r")
    with pytest.raises(OnlineServiceError, match=message) as caught:
        fetch_skymapper_cutout(request, base_url=skymapper.url)
    text = str(caught.value)
    assert "SkyMapper DR4 r cutout for" in text and "science.fits" in text
    assert f"{skymapper.url}/{endpoint}" in text and caught.value.service == "skymapper"
    if endpoint == "get_image":
        assert f"image {BEST.image_id}" in text


def test_an_unreachable_service_is_an_error(science: Path, skymapper: FakeSkyMapper) -> None:
    url = skymapper.url
    skymapper.server.shutdown()
    skymapper.server.server_close()
    request = skymapper_cutout_request(read_image(science), band="g")
    with pytest.raises(OnlineServiceError, match=r"SkyMapper DR4 g cutout.*ConnectError"):
        fetch_skymapper_cutout(request, base_url=url, timeout=5)


def test_the_archive_by_name_fetches_a_skymapper_template(
    science: Path, skymapper: FakeSkyMapper
) -> None:
    assert "skymapper-cutout" in SURVEY_NAMES
    request = template_request_for(read_image(science), "skymapper-cutout", band="g")
    header, _ = _open(fetch_archive_template(request, server=skymapper.url))
    (g_image,) = [r for r in IMAGES if r.band == "g"]
    assert header["SURVEY"] == "skymapper-cutout" and header["SMIMAGE"] == g_image.image_id
    assert header["SURVBAND"] == "g" and header["MAGZP"] == g_image.header_zp


def test_fetch_by_name_writes_and_registers_a_skymapper_cutout(
    science: Path, skymapper: FakeSkyMapper, tmp_path: Path
) -> None:
    data, out = tmp_path / "data", tmp_path / "ref.fits"
    args = ["references", "fetch", str(science), "-o", str(out), "--survey", "skymapper-cutout"]
    args += ["--server", skymapper.url, "--data-dir", str(data)]
    result = runner.invoke(app, [*args, "--register"])  # band from the frame's FILTER (r)
    assert result.exit_code == 0, result.output
    assert "SkyMapper DR4 r cutout" in result.output
    template = read_image(out)
    assert template.header["SMIMAGE"] == BEST.image_id
    assert template.meta.zero_point == BEST.header_zp
    with connect(f"sqlite:///{data / 'astrid.sqlite'}") as catalog:
        assert observation(catalog, 1).role == "reference"
    bad = tmp_path / "bad.fits"
    args[4] = str(bad)
    result = runner.invoke(app, [*args, "--band", "y"])
    assert result.exit_code == 2
    text = result.output.replace("\n", "")
    assert "skymapper-cutout" in text and "band 'y'" in text
    skymapper.mode = "list-html"
    result = runner.invoke(app, [*args, "--band", "i"])
    assert result.exit_code == 2
    assert "SkyMapper DR4 i cutout" in result.output and "not a VOTable" in result.output
    assert not bad.exists()
