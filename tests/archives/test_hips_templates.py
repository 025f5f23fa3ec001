"""Templates from survey archives through CDS hips2fits (issue 19).

The archives cannot be reached from here, so a local HTTP server stands in for hips2fits:
it answers as the service documents (https://alasky.cds.unistra.fr/hips-image-services/
hips2fits): a FITS file on the WCS it is sent (``wcs``: the FITS header as JSON, with
``NAXIS1``/``NAXIS2``), synthetic pixels here; a JSON ``{"title", "description"}`` with an
HTTP error status for a bad request. The pixels are synthetic; the protocol is the
service's (`hips2fits_double`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import pytest
from astropy.io import fits
from astropy.wcs import WCS
from hips2fits_double import FakeHips2fits
from typer.testing import CliRunner

from astrid.archives import fetch_template, survey_band, template_request
from astrid.catalog import connect
from astrid.catalog.observations import observation
from astrid.cli import app
from astrid.errors import ConfigurationError, OnlineServiceError
from astrid.observations.fits_reader import read_image

runner = CliRunner()


def test_bands_are_read_from_the_frames_filter() -> None:
    for given, expected in [
        ("r", "r"),
        ("r'", "r"),
        ("rp", "r"),
        ("SDSS r", "r"),
        ("i_sdss", "i"),
        ("r DECam SDSS c0002 6415.0 1480.0", "r"),
        ("Y", "y"),
    ]:
        assert survey_band("ps1", given) == expected, given
    assert survey_band("decaps", "Y") == "Y"
    with pytest.raises(ConfigurationError, match="band 'u' is not one of the survey's"):
        survey_band("ps1", "u")
    with pytest.raises(ConfigurationError, match="no FILTER; give the band"):
        survey_band("ps1", None)
    with pytest.raises(ConfigurationError, match="archive survey 'sdss'"):
        survey_band("sdss", "r")


def test_a_template_comes_on_the_frames_grid_with_a_margin(
    science: Path, hips2fits: FakeHips2fits
) -> None:
    image = read_image(science)
    request = template_request(image, survey="ps1", band="r", margin=16)
    assert request.hips == "CDS/P/PanSTARRS/DR1/r"
    data = fetch_template(request, server=hips2fits.url)
    (query,) = hips2fits.requests
    assert query["hips"] == "CDS/P/PanSTARRS/DR1/r" and query["format"] == "fits"
    sent = fits.Header(json.loads(query["wcs"]))
    assert (sent["NAXIS2"], sent["NAXIS1"]) == (image.shape[0] + 32, image.shape[1] + 32)
    with fits.open(BytesIO(data)) as hdul:
        header = hdul[0].header
        assert hdul[0].data.shape == request.shape
        assert header["SURVEY"] == "ps1" and header["SURVBAND"] == "r"
        assert header["FILTER"] == image.meta.filter  # the frame's: one band for the checks
        assert header["IMAGETYP"] == "TEMPLATE" and header["TMARGIN"] == 16
        template_wcs = WCS(header)
    # the frame's pixel (x, y) is the template's (x + 16, y + 16): the same sky
    assert image.wcs is not None
    sky = image.wcs.pixel_to_world(100.0, 50.0)
    x, y = template_wcs.world_to_pixel(sky)
    assert (float(x), float(y)) == pytest.approx((116.0, 66.0), abs=1e-6)
    # the same request twice is the same cache key; another band is another
    again = template_request(image, survey="ps1", band="r", margin=16)
    assert again.digest == request.digest
    assert template_request(image, survey="ps1", band="i", margin=16).digest != request.digest


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("json-error", r"Bad request: unknown HiPS 'CDS/P/X'"),
        ("html", "the answer is not a FITS image"),
        ("small", r"image of shape \(\d+, \d+\), asked for"),
        ("uncovered", "no finite pixel"),
    ],
)
def test_a_bad_answer_is_an_error_naming_the_survey_and_the_frame(
    mode: str, message: str, science: Path, hips2fits: FakeHips2fits
) -> None:
    hips2fits.mode = mode
    request = template_request(read_image(science), hips="CDS/P/X")
    with pytest.raises(OnlineServiceError, match=message) as caught:
        fetch_template(request, server=hips2fits.url)
    assert "hips2fits CDS/P/X for" in str(caught.value) and "science.fits" in str(caught.value)


def test_an_unreachable_archive_is_an_error(science: Path, hips2fits: FakeHips2fits) -> None:
    url = hips2fits.url
    hips2fits.server.shutdown()
    hips2fits.server.server_close()
    request = template_request(read_image(science), survey="ps1", band="g")
    with pytest.raises(OnlineServiceError, match="ConnectionError"):
        fetch_template(request, server=url, timeout=5)


def test_a_frame_without_wcs_asks_for_nothing(science: Path) -> None:
    image = replace(read_image(science), wcs=None)
    with pytest.raises(ConfigurationError, match="no celestial WCS"):
        template_request(image)


def test_fetch_writes_stores_and_registers_the_template(
    science: Path, hips2fits: FakeHips2fits, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    out = tmp_path / "ref.fits"
    args = ["references", "fetch", str(science), "-o", str(out), "--band", "r"]
    args += ["--server", hips2fits.url, "--data-dir", str(data), "--register"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "registered as reference observation 1" in result.output
    template = read_image(out)
    assert template.meta.filter == "r" and template.header["HIPS"] == "CDS/P/PanSTARRS/DR1/r"
    with connect(f"sqlite:///{data / 'astrid.sqlite'}") as catalog:
        record = observation(catalog, 1)
    assert record.role == "reference" and record.shape == template.shape
    # asked again with the archive gone: answered from the object store, not the network
    hips2fits.server.shutdown()
    again = tmp_path / "again.fits"
    args[4] = str(again)
    result = runner.invoke(app, args[:-1])
    assert result.exit_code == 0, result.output
    assert "from the store" in result.output
    assert again.read_bytes() == out.read_bytes()
    assert len(hips2fits.requests) == 1
    assert not (data / "cache" / "templates").exists()  # one cache: the store


def test_fetch_errors_are_named_and_nothing_is_written(
    science: Path, hips2fits: FakeHips2fits, tmp_path: Path
) -> None:
    hips2fits.mode = "html"
    out = tmp_path / "ref.fits"
    args = ["references", "fetch", str(science), "-o", str(out), "--band", "r"]
    result = runner.invoke(app, [*args, "--server", hips2fits.url, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a FITS image" in result.output.replace("\n", "")
    junk = tmp_path / "junk.fits"
    junk.write_text("not FITS")
    result = runner.invoke(
        app, ["references", "fetch", str(junk), "-o", str(out), "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 2 and "junk.fits" in result.output
    assert not out.exists()
    assert list(tmp_path.rglob("*.fits")) == [junk]  # no template, cached or not
