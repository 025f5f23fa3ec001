"""Tests of astrid.observations.fits_reader: every file is written here with astropy."""

from __future__ import annotations

import importlib.util
import logging
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS, Sip
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astrid.errors import InvalidImageError
from astrid.observations.fits_reader import MIN_IMAGE_SIDE, read_image

SHAPE = (60, 80)  # (ny, nx)
SCALE_DEG = 0.5 / 3600.0  # 0.5 arcsec / pixel
CRVAL = (150.0, 2.0)
DECAM_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "decam"


def _tan_header(shape: tuple[int, int] = SHAPE, /, **extra: object) -> fits.Header:
    """A plain TAN WCS centred on the image plus any extra keywords."""
    ny, nx = shape
    header = fits.Header()
    header.update(
        {
            "CTYPE1": "RA---TAN",
            "CTYPE2": "DEC--TAN",
            "CRVAL1": CRVAL[0],
            "CRVAL2": CRVAL[1],
            "CRPIX1": (nx + 1) / 2.0,
            "CRPIX2": (ny + 1) / 2.0,
            "CD1_1": -SCALE_DEG,
            "CD1_2": 0.0,
            "CD2_1": 0.0,
            "CD2_2": SCALE_DEG,
        }
    )
    header.update(extra)
    return header


def _pixels(shape: tuple[int, int] = SHAPE, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(1000.0, 10.0, shape).astype(np.float32)


def _write(path: Path, data: np.ndarray | None, header: fits.Header | None = None) -> Path:
    fits.PrimaryHDU(data, header).writeto(path)
    return path


def _assert_invalid(path: Path, match: str, **kwargs: object) -> InvalidImageError:
    with pytest.raises(InvalidImageError, match=match) as info:
        read_image(path, **kwargs)
    assert path.name in str(info.value)
    assert info.value.path == str(path)
    return info.value


# --- good files ---------------------------------------------------------------------------


def test_primary_hdu_pixels_wcs_and_name(tmp_path: Path) -> None:
    data = _pixels()
    path = _write(tmp_path / "frame.fits", data, _tan_header())
    image = read_image(path)

    assert image.shape == SHAPE
    assert image.data.dtype == np.float32 and image.data.dtype.isnative
    np.testing.assert_array_equal(image.data, data)
    assert not image.mask.any()
    assert image.path == str(path)
    assert image.meta.name == "frame"
    assert image.wcs is not None and image.wcs.naxis == 2
    # CRPIX is 1-based: the centre of an (ny, nx) image is at 0-based ((nx-1)/2, (ny-1)/2).
    ra, dec = image.wcs.pixel_to_world_values((SHAPE[1] - 1) / 2, (SHAPE[0] - 1) / 2)
    assert ra == pytest.approx(CRVAL[0], abs=1e-9) and dec == pytest.approx(CRVAL[1], abs=1e-9)


def test_extension_hdu_is_found_and_inherits_primary_keywords(tmp_path: Path) -> None:
    data = _pixels()
    primary = fits.PrimaryHDU(header=fits.Header({"EXPTIME": 45.0, "FILTER": "g"}))
    extension = fits.ImageHDU(data, _tan_header(GAIN=2.5), name="SCI")
    path = tmp_path / "mef.fits"
    fits.HDUList([primary, extension]).writeto(path)

    for hdu in (None, 1, "SCI"):
        image = read_image(path, hdu=hdu)
        np.testing.assert_array_equal(image.data, data)
        assert image.meta.exptime == 45.0
        assert image.meta.filter == "g"
        assert image.meta.gain == 2.5


def test_tile_compressed_integer_rice_is_lossless(tmp_path: Path) -> None:
    data = np.random.default_rng(1).integers(0, 5000, SHAPE).astype(np.int32)
    path = tmp_path / "comp.fits.fz"
    compressed = fits.CompImageHDU(data, _tan_header(), compression_type="RICE_1")
    fits.HDUList([fits.PrimaryHDU(), compressed]).writeto(path)

    image = read_image(path)
    assert image.meta.name == "comp"
    np.testing.assert_array_equal(image.data, data.astype(np.float32))
    assert image.wcs is not None


def test_tile_compressed_float_with_quantisation(tmp_path: Path) -> None:
    data = _pixels()
    path = tmp_path / "compf.fits.fz"
    compressed = fits.CompImageHDU(
        data, _tan_header(), compression_type="RICE_1", quantize_level=16.0
    )
    fits.HDUList([fits.PrimaryHDU(), compressed]).writeto(path)

    image = read_image(path)
    # Quantisation step is sigma/16 ~ 0.6 ADU for sigma 10.
    np.testing.assert_allclose(image.data, data, atol=1.0)
    assert image.data.dtype == np.float32 and image.data.dtype.isnative
    assert math.isinf(image.meta.saturation)


def test_big_endian_float32(tmp_path: Path) -> None:
    data = _pixels().astype(">f4")
    path = _write(tmp_path / "be.fits", data, _tan_header())
    image = read_image(path)
    assert image.data.dtype.isnative
    np.testing.assert_array_equal(image.data, data.astype(np.float32))


def test_big_endian_int16_with_bscale_bzero(tmp_path: Path) -> None:
    raw = np.random.default_rng(2).integers(-1000, 1000, SHAPE).astype(">i2")
    path = _write(tmp_path / "scaled.fits", raw, _tan_header())
    # Add the scaling to the raw integers on disk, as a camera would have written them.
    with fits.open(path, mode="update", do_not_scale_image_data=True) as hdul:
        hdul[0].header["BSCALE"] = 2
        hdul[0].header["BZERO"] = 100
    with fits.open(path, do_not_scale_image_data=True) as hdul:
        assert hdul[0].data.dtype == np.dtype(">i2")
        np.testing.assert_array_equal(hdul[0].data, raw)
    physical = raw * 2.0 + 100.0

    image = read_image(path)
    assert image.data.dtype == np.float32 and image.data.dtype.isnative
    np.testing.assert_array_equal(image.data, physical)
    # Largest int16 (32767) through the scaling; not a header value, so not defaulted.
    assert image.meta.saturation == 100.0 + 2.0 * 32767
    assert "saturation" not in image.meta.defaulted
    assert "BZERO" not in image.header and image.header["BITPIX"] == -32


def test_unsigned_int16_saturation_from_bitpix(tmp_path: Path) -> None:
    data = np.random.default_rng(3).integers(0, 60000, SHAPE).astype(np.uint16)
    path = _write(tmp_path / "u16.fits", data, _tan_header())
    image = read_image(path)
    np.testing.assert_array_equal(image.data, data.astype(np.float32))
    assert image.meta.saturation == 65535.0


def test_nan_and_inf_are_masked_and_zeroed(tmp_path: Path) -> None:
    data = _pixels()
    bad = np.zeros(SHAPE, bool)
    bad[3, 4] = bad[10, 70] = bad[59, 0] = True
    data[3, 4], data[10, 70], data[59, 0] = np.nan, np.inf, -np.inf
    path = _write(tmp_path / "nan.fits", data, _tan_header())

    image = read_image(path)
    np.testing.assert_array_equal(image.mask, bad)
    assert np.all(image.data[bad] == 0.0)
    np.testing.assert_array_equal(image.data[~bad], data[~bad])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bad_fraction=st.floats(0.0, 0.9),
    seed=st.integers(0, 2**32 - 1),
)
def test_mask_is_exactly_the_non_finite_pixels(bad_fraction: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = rng.normal(0.0, 1e6, (32, 40)).astype(np.float32)
    bad = rng.random(data.shape) < bad_fraction
    data[bad] = rng.choice(np.array([np.nan, np.inf, -np.inf], np.float32), int(bad.sum()))
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp) / "h.fits", data, _tan_header(data.shape))
        image = read_image(path)
    np.testing.assert_array_equal(image.mask, bad)
    np.testing.assert_array_equal(image.data, np.where(bad, 0.0, data))


def test_cube_with_singleton_axis_is_squeezed(tmp_path: Path) -> None:
    data = _pixels()[np.newaxis]
    header = _tan_header(CTYPE3="WAVE", CRVAL3=5e-7, CDELT3=1e-9, CRPIX3=1.0)
    path = _write(tmp_path / "cube.fits", data, header)
    image = read_image(path)
    assert image.shape == SHAPE
    assert image.wcs is not None and image.wcs.naxis == 2


def test_sip_distortion_is_applied(tmp_path: Path) -> None:
    ny, nx = SHAPE
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    wcs.wcs.crval = CRVAL
    wcs.wcs.crpix = [(nx + 1) / 2.0, (ny + 1) / 2.0]
    wcs.wcs.cd = [[-SCALE_DEG, 0.0], [0.0, SCALE_DEG]]
    a = np.zeros((3, 3))
    b = np.zeros((3, 3))
    a[2, 0] = 1e-3  # 1e-3 * 40**2 = 1.6 pixels at the left/right edges
    b[0, 2] = -5e-4
    wcs.sip = Sip(a, b, None, None, wcs.wcs.crpix)
    path = _write(tmp_path / "sip.fits", _pixels(), wcs.to_header(relax=True))

    image = read_image(path)
    assert image.wcs is not None and image.wcs.sip is not None
    corner = (0.0, 0.0)
    got = image.wcs.pixel_to_world_values(*corner)
    np.testing.assert_allclose(got, wcs.pixel_to_world_values(*corner), atol=1e-10)
    undistorted = WCS(_tan_header()).pixel_to_world_values(*corner)
    assert abs(got[0] - undistorted[0]) * 3600 > 0.5  # the SIP term moved it


def test_tpv_distortion_is_applied(tmp_path: Path) -> None:
    k = 0.05  # xi' = xi + k * xi**2, xi in degrees
    header = _tan_header(CTYPE1="RA---TPV", CTYPE2="DEC--TPV")
    header.update({"PV1_0": 0.0, "PV1_1": 1.0, "PV1_2": 0.0, "PV1_4": k})
    header.update({"PV2_0": 0.0, "PV2_1": 1.0, "PV2_2": 0.0})
    path = _write(tmp_path / "tpv.fits", _pixels(), header)

    image = read_image(path)
    assert image.wcs is not None
    x0, y0 = header["CRPIX1"] - 1.0, header["CRPIX2"] - 1.0
    offset = 1000.0  # pixels along x from the reference pixel: xi = -0.139 deg
    xi = -SCALE_DEG * offset
    # A pure TAN WCS evaluated where its xi equals the distorted xi' gives the truth.
    offset_distorted = (xi + k * xi**2) / -SCALE_DEG
    expected = WCS(_tan_header()).pixel_to_world_values(x0 + offset_distorted, y0)
    got = image.wcs.pixel_to_world_values(x0 + offset, y0)
    np.testing.assert_allclose(got, expected, atol=1e-9)
    plain = WCS(_tan_header()).pixel_to_world_values(x0 + offset, y0)
    assert abs(got[0] - plain[0]) * 3600 > 3.0  # k * xi**2 = 3.5 arcsec


def test_header_metadata_is_parsed(tmp_path: Path) -> None:
    header = _tan_header(
        **{
            "MJD-OBS": 60000.25,
            "DATE-OBS": "2001-01-01T00:00:00",
            "FILTER": "  r  ",
            "EXPTIME": 120.0,
            "GAIN": 1.7,
            "RDNOISE": 5.5,
            "SATURATE": 60000.0,
            "FWHM": 3.2,
            "MAGZP": 27.1,
        }
    )
    path = _write(tmp_path / "meta.fits.gz", _pixels(), header)
    meta = read_image(path).meta
    assert meta.name == "meta"
    assert meta.mjd == 60000.25  # MJD-OBS preferred over DATE-OBS
    assert meta.filter == "r"
    assert (meta.exptime, meta.gain, meta.read_noise) == (120.0, 1.7, 5.5)
    assert meta.saturation == 60000.0
    assert meta.fwhm == 3.2
    assert meta.zero_point == 27.1
    assert meta.defaulted == ()


def test_alternative_keywords(tmp_path: Path) -> None:
    header = _tan_header(
        EXPOSURE=30.0,
        EGAIN=2.0,
        READNOI=4.0,
        SATLEVEL=50000.0,
        BAND="i",
        ZP=25.0,
        SEEING=1.5,
    )
    path = _write(tmp_path / "alt.fits", _pixels(), header)
    meta = read_image(path).meta
    assert (meta.exptime, meta.gain, meta.read_noise, meta.saturation) == (
        30.0,
        2.0,
        4.0,
        50000.0,
    )
    assert meta.filter == "i"
    assert meta.zero_point == 25.0
    assert meta.fwhm == pytest.approx(3.0, rel=1e-6)  # 1.5 arcsec / 0.5 arcsec per pixel


def test_mjd_from_date_obs_only(tmp_path: Path) -> None:
    header = _tan_header(**{"DATE-OBS": "2018-08-04T09:23:31.5"})
    path = _write(tmp_path / "date.fits", _pixels(), header)
    expected = Time("2018-08-04T09:23:31.5", scale="utc").mjd
    assert read_image(path).meta.mjd == pytest.approx(expected, abs=1e-9)


def test_mjd_from_date_obs_and_time_obs(tmp_path: Path) -> None:
    header = _tan_header(**{"DATE-OBS": "2018-08-04", "TIME-OBS": "12:00:00"})
    path = _write(tmp_path / "date2.fits", _pixels(), header)
    assert read_image(path).meta.mjd == pytest.approx(58334.5, abs=1e-9)


def test_mjd_from_jd_only(tmp_path: Path) -> None:
    path = _write(tmp_path / "jd.fits", _pixels(), _tan_header(JD=2458250.467013889))
    assert read_image(path).meta.mjd == pytest.approx(58249.967013889, abs=1e-9)


def test_missing_fields_are_defaulted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path / "bare.fits", _pixels(), _tan_header(GAIN="n/a"))
    with caplog.at_level(logging.WARNING, logger="astrid.observations.fits_reader"):
        meta = read_image(path).meta
    assert meta.defaulted == ("exptime", "gain", "read_noise", "saturation")
    assert (meta.exptime, meta.gain, meta.read_noise) == (1.0, 1.0, 0.0)
    assert math.isinf(meta.saturation)
    assert meta.mjd is None and meta.filter is None and meta.fwhm is None
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 1
    assert "bare.fits" in messages[0] and "gain" in messages[0]


def test_require_wcs_false_gives_none(tmp_path: Path) -> None:
    path = _write(tmp_path / "nowcs.fits", _pixels(), fits.Header({"EXPTIME": 5.0}))
    image = read_image(path, require_wcs=False)
    assert image.wcs is None
    assert image.meta.exptime == 5.0


# --- bad files ----------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    _assert_invalid(tmp_path / "absent.fits", "not found")


def test_text_file_named_fits(tmp_path: Path) -> None:
    path = tmp_path / "x.fits"
    path.write_text("this is not a FITS file\n" * 200)
    _assert_invalid(path, "not a readable FITS file")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "zero.fits"
    path.write_bytes(b"")
    _assert_invalid(path, "not a readable FITS file")


@pytest.mark.parametrize("suffix", [".fits", ".fits.fz"])
def test_truncated_file(tmp_path: Path, suffix: str) -> None:
    whole = tmp_path / f"whole{suffix}"
    if suffix == ".fits":
        _write(whole, _pixels(), _tan_header())
    else:
        data = np.random.default_rng(4).integers(0, 5000, SHAPE).astype(np.int32)
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, _tan_header())]).writeto(whole)
    content = whole.read_bytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(content[: len(content) // 2])
    _assert_invalid(path, "truncated")


def test_file_missing_only_the_final_padding_is_rejected(tmp_path: Path) -> None:
    whole = _write(tmp_path / "whole.fits", _pixels(), _tan_header())
    with fits.open(whole) as hdul:
        data_start = hdul.fileinfo(0)["datLoc"]
    content = whole.read_bytes()
    path = tmp_path / "nopad.fits"
    path.write_bytes(content[: data_start + SHAPE[0] * SHAPE[1] * 4])  # all data, no padding
    assert len(content) > path.stat().st_size
    _assert_invalid(path, "truncated")


def test_all_nan_image(tmp_path: Path) -> None:
    path = _write(tmp_path / "allnan.fits", np.full(SHAPE, np.nan, np.float32), _tan_header())
    error = _assert_invalid(path, "finite")
    assert error.details["finite_fraction"] == 0.0


def test_fewer_than_one_percent_finite(tmp_path: Path) -> None:
    data = np.full(SHAPE, np.inf, np.float32)
    data.flat[:20] = 1.0  # 20 / 4800 = 0.4 %
    path = _write(tmp_path / "sparse.fits", data, _tan_header())
    _assert_invalid(path, "finite")


def test_no_wcs(tmp_path: Path) -> None:
    path = _write(tmp_path / "nowcs.fits", _pixels())
    _assert_invalid(path, "no celestial WCS")


@pytest.mark.parametrize(
    "change",
    [
        {"CD1_1": 0.0, "CD2_2": 0.0},  # wcslib would silently make this the identity
        {"CD1_1": 1e-4, "CD1_2": 1e-4, "CD2_1": 1e-4, "CD2_2": 1e-4},  # singular
        {"CTYPE1": "RA---XXX"},  # unknown projection
        {"CTYPE2": "LINEAR"},  # unmatched celestial axis
        {"CRVAL2": 100.0},  # declination out of range
    ],
    ids=["cd-zero", "cd-singular", "bad-projection", "unmatched-axes", "dec-100"],
)
def test_broken_wcs(tmp_path: Path, change: dict[str, object]) -> None:
    path = _write(tmp_path / "badwcs.fits", _pixels(), _tan_header(**change))
    _assert_invalid(path, "WCS")
    _assert_invalid(path, "WCS", require_wcs=False)  # present but broken: still an error


def test_singular_pc_matrix(tmp_path: Path) -> None:
    header = _tan_header()
    for key in ("CD1_1", "CD1_2", "CD2_1", "CD2_2"):
        del header[key]
    header.update({"CDELT1": -SCALE_DEG, "CDELT2": SCALE_DEG})
    header.update({"PC1_1": 1.0, "PC1_2": 1.0, "PC2_1": 1.0, "PC2_2": 1.0})
    path = _write(tmp_path / "pc.fits", _pixels(), header)
    _assert_invalid(path, "WCS")


def test_table_only_fits(tmp_path: Path) -> None:
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="D", array=[1.0, 2.0])])
    path = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    _assert_invalid(path, "no HDU holds image data")
    _assert_invalid(path, "not an image", hdu=1)


def test_one_dimensional_array(tmp_path: Path) -> None:
    path = _write(tmp_path / "spectrum.fits", np.arange(100.0))
    error = _assert_invalid(path, "expected 2-D")
    assert error.details["shape"] == (100,)


def test_cube_with_real_third_axis(tmp_path: Path) -> None:
    path = _write(tmp_path / "cube2.fits", np.stack([_pixels(), _pixels()]), _tan_header())
    _assert_invalid(path, "expected 2-D")


def test_header_only_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "hdronly.fits", None, _tan_header())
    _assert_invalid(path, "no HDU holds image data")
    _assert_invalid(path, "empty", hdu=0)


def test_unknown_hdu(tmp_path: Path) -> None:
    path = _write(tmp_path / "one.fits", _pixels(), _tan_header())
    _assert_invalid(path, "no HDU 'SCI'", hdu="SCI")
    _assert_invalid(path, "no HDU 3", hdu=3)


# --- real frames --------------------------------------------------------------------------


@pytest.mark.skipif(
    not (DECAM_DIR / "DEC-OBS04a.fits").is_file(),
    reason=f"real DECam frames not present at {DECAM_DIR}",
)
def test_real_decam_frame() -> None:
    path = DECAM_DIR / "DEC-OBS04a.fits"
    image = read_image(path)
    header = fits.getheader(path)
    assert header["CTYPE1"] == "RA---TPV"
    assert image.shape == (256, 256)
    assert image.wcs is not None
    sky = np.array(image.wcs.pixel_to_world_values(127.5, 127.5))
    assert np.all(np.isfinite(sky))
    # wcslib turns the PV terms into a distortion; without them the sky moves.
    without_pv = header.copy()
    for key in [k for k in without_pv if k.startswith("PV")]:
        del without_pv[key]
    without_pv["CTYPE1"], without_pv["CTYPE2"] = "RA---TAN", "DEC--TAN"
    plain = np.array(WCS(without_pv).pixel_to_world_values(127.5, 127.5))
    assert np.hypot((sky[0] - plain[0]) * np.cos(np.radians(sky[1])), sky[1] - plain[1]) > 1e-4
    assert image.meta.fwhm == pytest.approx(header["FWHM"])
    assert image.meta.gain == pytest.approx(header["GAIN"])
    assert image.meta.saturation == pytest.approx(header["SATURATE"])
    assert image.meta.mjd == pytest.approx(header["MJD-OBS"])
    assert "gain" not in image.meta.defaulted and "saturation" not in image.meta.defaulted


@pytest.mark.skipif(importlib.util.find_spec("zogyp") is None, reason="zogyp is not installed")
def test_zogyp_sample_frame() -> None:
    spec = importlib.util.find_spec("zogyp")
    assert spec is not None and spec.submodule_search_locations is not None
    path = Path(next(iter(spec.submodule_search_locations))) / "test" / "1.fits"
    if not path.is_file():
        pytest.skip(f"zogyp is installed without its sample frame {path}")
    image = read_image(path)
    assert image.shape == (1850, 1850)
    assert image.wcs is not None and image.wcs.sip is not None
    assert image.meta.filter == "L"
    assert image.meta.exptime == 360.0


# --- resource bombs: refused from the header, before any pixel is read -------------------


@pytest.mark.parametrize("side", [1, 3, MIN_IMAGE_SIDE - 1])
def test_too_small_image_is_rejected(tmp_path: Path, side: int) -> None:
    # astroscrappy corrupts memory on images of a few pixels: refused at read time
    path = _write(tmp_path / "tiny.fits", _pixels((side, side)), _tan_header((side, side)))
    error = _assert_invalid(path, "too small")
    assert error.details["shape"] == (side, side)


def _header_only_bomb(path: Path, nx: int, ny: int, bitpix: int = -64) -> Path:
    """A 2 880-byte file whose header declares an ``nx`` × ``ny`` image and holds no data."""
    header = fits.PrimaryHDU(np.zeros((1, 1), np.float64)).header
    header["BITPIX"], header["NAXIS1"], header["NAXIS2"] = bitpix, nx, ny
    path.write_bytes(header.tostring().encode("ascii").ljust(2880, b" "))
    return path


def test_header_declaring_a_huge_image_is_refused_before_reading(tmp_path: Path) -> None:
    path = _header_only_bomb(tmp_path / "bomb.fits", 100_000, 100_000)
    assert path.stat().st_size == 2880
    error = _assert_invalid(path, "pixel budget")
    assert error.details["shape"] == (100_000, 100_000)


def test_header_declaring_more_data_than_the_file_holds(tmp_path: Path) -> None:
    path = _header_only_bomb(tmp_path / "short.fits", 4000, 4000)
    error = _assert_invalid(path, "truncated")
    assert error.details["declared_bytes"] == 4000 * 4000 * 8


def test_compressed_image_over_the_budget_is_refused_before_decompressing(
    tmp_path: Path,
) -> None:
    # a few kB of tile-compressed zeros that would decompress to 64 MB
    path = tmp_path / "big.fits.fz"
    zeros = np.zeros((4096, 4096), np.int32)
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(zeros, _tan_header((4096, 4096)))]).writeto(
        path
    )
    assert path.stat().st_size < 500_000
    error = _assert_invalid(path, "pixel budget", max_pixels=2048 * 2048)
    assert error.details["max_pixels"] == 2048 * 2048
    assert read_image(path, max_pixels=4096 * 4096).shape == (4096, 4096)


def test_a_directory_is_not_an_image(tmp_path: Path) -> None:
    folder = tmp_path / "frames.fits"
    folder.mkdir()
    _assert_invalid(folder, "not a regular file")
