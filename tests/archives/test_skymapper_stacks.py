"""A deeper SkyMapper template: several exposures' cutouts proper-coadded.

The local SIAP stand-in (`skymapper_double`) lists several 100 s r exposures of one field
(different seeing, CCD grids moved by a few pixels, independent noise, the same stars of
known magnitudes); the pixels are synthetic, no real SkyMapper pixel is measured here.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from skymapper_double import FakeSkyMapper, SiapRow, sky

from astrid.archives import skymapper_cutouts
from astrid.archives.skymapper_cutouts import (
    SKYMAPPER_PIXEL_SCALE,
    SKYMAPPER_RELEASE,
    SKYMAPPER_STACK_MAX,
    SkyMapperCutoutRequest,
    SkyMapperImage,
    fetch_skymapper_cutout,
    skymapper_cutout_request,
    stack_choice,
)
from astrid.observations.fits_reader import read_image

#: Four usable exposures (best first: 1.6″), and one 2.06× blurred (the latest).
ROWS = (
    SiapRow("20160405101010-11", "r", 57483.4, 100.0, "main", 1.6, 28.60, 28.6012),
    SiapRow("20170322140233-21", "r", 57834.5, 100.0, "main", 1.8, 28.65, 28.6531),
    SiapRow("20190315133702-12", "r", 58557.5, 100.0, "main", 2.0, 28.55, 28.5478),
    SiapRow("20200101120000-05", "r", 58849.5, 100.0, "main", 2.2, 28.70, 28.6966),
    SiapRow("20210604182211-30", "r", 59369.7, 100.0, "main", 3.3, 28.62, 28.6204),
)
USED = ROWS[:4]
_MOVES = [(0.0, 0.0), (3.4, -2.7), (-5.2, 1.3), (7.1, 4.6)]  # CCD pixels: other pointings
SHIFTS = {r.image_id: s for r, s in zip(USED, _MOVES, strict=True)}
#: The star measured: at the asked position.
STAR_MAG = 17.0
NOISE = 20.0  # ADU per pixel


def _stars() -> tuple[tuple[float, float, float], ...]:
    """A 5 × 5 grid of stars 22″ apart (14.5 to 17.9 mag), the centre one of `STAR_MAG`."""
    rng = np.random.default_rng(7)
    stars = []
    for i in range(-2, 3):
        for j in range(-2, 3):
            mag = STAR_MAG if i == j == 0 else float(rng.uniform(14.5, 17.9))
            stars.append((22.0 * i + 1.3 * j, 22.0 * j - 0.7 * i, mag))
    return tuple(stars)


@pytest.fixture()
def small(science: Path) -> SkyMapperCutoutRequest:
    """The request for a 96 × 96 corner of the science frame: a 256-pixel cutout."""
    image = read_image(science)
    assert image.wcs is not None
    corner = replace(
        image, data=image.data[:96, :96], mask=image.mask[:96, :96], wcs=image.wcs[:96, :96]
    )
    return skymapper_cutout_request(corner, band="r", margin=16)


def _field(skymapper: FakeSkyMapper, rows: tuple[SiapRow, ...]) -> None:
    skymapper.images = rows
    skymapper.stars = _stars()
    skymapper.noise = NOISE
    skymapper.shifts = SHIFTS


def _open(data: bytes) -> tuple[fits.Header, np.ndarray]:
    with fits.open(BytesIO(data)) as hdul:
        return hdul[0].header, hdul[0].data.astype(float)


def _measure(header: fits.Header, pixels: np.ndarray, request: SkyMapperCutoutRequest) -> tuple:
    """The centre star's magnitude through MAGZP (aperture of 4″, annulus 12–18″ for the
    level left) and the background noise (MAD σ) away from every star."""
    wcs = WCS(header)
    y, x = np.mgrid[: pixels.shape[0], : pixels.shape[1]].astype(float)
    px, py = (float(v) for v in wcs.world_to_pixel_values(request.ra, request.dec))
    r = np.hypot(x - px, y - py) * SKYMAPPER_PIXEL_SCALE * header.get("BINNING", 1)
    far = np.ones(pixels.shape, dtype=bool)
    for east, north, _ in _stars():
        ra = request.ra + east / 3600.0 / math.cos(math.radians(request.dec))
        sx, sy = (float(v) for v in wcs.world_to_pixel_values(ra, request.dec + north / 3600.0))
        far &= np.hypot(x - sx, y - sy) * SKYMAPPER_PIXEL_SCALE > 9.0
    finite = np.isfinite(pixels)
    annulus = (r > 12.0) & (r < 18.0) & finite & far
    level = float(np.median(pixels[annulus]))
    flux = float(np.sum(pixels[(r < 4.0) & finite] - level))
    values = pixels[far & finite & (r > 0)]
    values = values - np.median(values)
    sigma = 1.4826 * float(np.median(np.abs(values)))
    return header["MAGZP"] - 2.5 * math.log10(flux), sigma


def test_the_stack_takes_the_sharp_deep_exposures_best_first() -> None:
    def row(name: str, exptime: float | None, fwhm: float | None) -> SkyMapperImage:
        return SkyMapperImage(name, "r", 58000.0, exptime, fwhm, 28.6)

    best, blurred = row("b", 100.0, 1.6), row("x-blurred", 100.0, 3.2)  # 2.0×: dropped
    edge, short = row("c-edge", 100.0, 2.4), row("a-short", 5.0, 1.2)  # 1.5×: kept
    unknown, other = row("d-unknown", 100.0, None), SkyMapperImage("g", "g", 1, 100, 1, 28)
    half = row("e-half", 50.0, 1.7)
    images = [blurred, edge, short, unknown, other, half, best]
    assert stack_choice(images, "r") == [best, edge, half]
    assert stack_choice([unknown, short], "r") == [unknown]  # the best's seeing unknown
    many = [row(f"m{k}", 100.0, 1.0 + 0.01 * k) for k in range(9)]
    assert stack_choice(many, "r") == many[:SKYMAPPER_STACK_MAX] and SKYMAPPER_STACK_MAX == 5
    assert stack_choice(images, "i") == []


def test_several_exposures_make_a_deeper_template_with_the_star_s_magnitude(
    small: SkyMapperCutoutRequest, skymapper: FakeSkyMapper
) -> None:
    _field(skymapper, ROWS)
    header, pixels = _open(fetch_skymapper_cutout(small, base_url=skymapper.url))
    asked = [q["IMAGE"] for path, q in skymapper.requests if path.endswith("/get_image")]
    assert asked == [r.image_id for r in USED]  # best first; the blurred one not fetched
    assert header["SMNEXP"] == 4 and header["SMIMAGE"] == USED[0].image_id
    assert [header[f"SMIMG{k}"] for k in range(1, 5)] == [r.image_id for r in USED]
    assert "SMIMG5" not in header
    assert header["MJD-OBS"] == USED[3].mjd_obs  # the latest stacked, not the dropped one
    assert header["EXPTIME"] == 100.0
    assert header["MAGZP"] == pytest.approx(USED[0].header_zp, abs=0.01)  # the first's units
    assert 1.5 < header["SEEING"] < 2.0 and header["FWHM"] * 0.497 == pytest.approx(
        header["SEEING"], rel=1e-3
    )
    # the highest level any input records unsaturated, in the first's units (68661 here)
    assert header["SATURATE"] > 65435.0
    stacked_mag, stacked_sigma = _measure(header, pixels, small)
    assert stacked_mag == pytest.approx(STAR_MAG, abs=0.02)
    assert read_image(BytesIO(_write(header, pixels))).meta.zero_point == header["MAGZP"]

    skymapper.requests.clear()
    skymapper.images = ROWS[:1]  # the best alone: today's template
    one_header, one = _open(fetch_skymapper_cutout(small, base_url=skymapper.url))
    assert "SMNEXP" not in one_header and one_header["SEEING"] == 1.6
    y, x = np.mgrid[: one.shape[0], : one.shape[1]].astype(float)
    single_mag, single_sigma = _measure(one_header, one - sky(y, x), small)
    assert single_mag == pytest.approx(STAR_MAG, abs=0.02)
    assert single_sigma == pytest.approx(NOISE, rel=0.05)
    assert single_sigma / stacked_sigma > GAIN


#: Background σ of the best exposure over the stack's, 4 exposures of 1.6–2.2″: 2.12 as
#: measured (19.98 / 9.41 ADU; √4 = 2 at equal seeing and flux scale).
GAIN = 1.8


def _write(header: fits.Header, pixels: np.ndarray) -> bytes:
    buffer = BytesIO()
    fits.PrimaryHDU(pixels.astype(np.float32), header).writeto(buffer)
    return buffer.getvalue()


def test_a_failing_extra_cutout_leaves_a_stack_of_the_others(
    small: SkyMapperCutoutRequest, skymapper: FakeSkyMapper, caplog: pytest.LogCaptureFixture
) -> None:
    _field(skymapper, ROWS)
    skymapper.failing = {USED[2].image_id}
    with caplog.at_level(logging.WARNING, logger="astrid.archives.skymapper_cutouts"):
        header, pixels = _open(fetch_skymapper_cutout(small, base_url=skymapper.url))
    assert f"SkyMapper image {USED[2].image_id} left out of the stack" in caplog.text
    assert "HTTP 500" in caplog.text
    kept = [USED[0], USED[1], USED[3]]
    assert header["SMNEXP"] == 3
    assert [header[f"SMIMG{k}"] for k in range(1, 4)] == [r.image_id for r in kept]
    assert _measure(header, pixels, small)[0] == pytest.approx(STAR_MAG, abs=0.02)


def test_a_failing_first_cutout_is_still_an_error(
    small: SkyMapperCutoutRequest, skymapper: FakeSkyMapper
) -> None:
    _field(skymapper, ROWS)
    skymapper.failing = {USED[0].image_id}
    with pytest.raises(skymapper_cutouts.OnlineServiceError, match=USED[0].image_id):
        fetch_skymapper_cutout(small, base_url=skymapper.url)


def test_exposures_that_cannot_be_stacked_leave_the_best_alone(
    small: SkyMapperCutoutRequest, skymapper: FakeSkyMapper, caplog: pytest.LogCaptureFixture
) -> None:
    skymapper.images = USED[:2]  # one star each: nothing to align or scale the flux by
    with caplog.at_level(logging.WARNING, logger="astrid.archives.skymapper_stacks"):
        header, _ = _open(fetch_skymapper_cutout(small, base_url=skymapper.url))
    assert "the 2 exposures could not be stacked (" in caplog.text
    assert "the best one alone is used" in caplog.text
    assert header["SMIMAGE"] == USED[0].image_id and "SMNEXP" not in header
    assert header["MAGZP"] == USED[0].header_zp and header["SEEING"] == 1.6


def test_the_stacking_rule_is_in_the_digest(
    small: SkyMapperCutoutRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = small.digest
    old = [SKYMAPPER_RELEASE, SKYMAPPER_PIXEL_SCALE]  # the terms of one exposure's template
    with monkeypatch.context() as patch:
        patch.setattr(SkyMapperCutoutRequest, "_service_terms", lambda self: old)
        assert small.digest != digest
    monkeypatch.setattr(skymapper_cutouts, "SKYMAPPER_STACK_MAX", 3)
    assert small.digest != digest
