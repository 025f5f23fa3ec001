from __future__ import annotations

import gzip
import io
import warnings
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty, VarianceUncertainty
from hypothesis import given, settings
from hypothesis import strategies as st
from rubin_samples import rubin_cutout

from astrid.errors import IngestError
from astrid.ingest import decode_stamp, to_triplet
from astrid.ingest.stamp_fits import read_plain_planes
from astrid.ingest.ztf_layout import ztf_stamp


def _plain_fits(data: np.ndarray, **header: object) -> bytes:
    hdu = fits.PrimaryHDU(data)
    for key, value in header.items():
        hdu.header[key] = value
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)  # odd headers on purpose
        hdu.writeto(buffer)
    return buffer.getvalue()


def test_gzip_stamp_is_decoded_and_blanks_masked() -> None:
    data = np.full((63, 63), 5.0, dtype="f4")
    data[0, :4] = 3.4e38
    data[1, :3] = -3.4e38
    data[2, :2] = np.nan
    data[3, 0] = np.inf
    pixels, notes = decode_stamp(ztf_stamp(data), what="science stamp")
    assert pixels.dtype == np.float32 and pixels.dtype.isnative
    assert pixels.shape == (63, 63)
    assert int(np.isnan(pixels).sum()) == 10
    assert notes == ["science stamp: 10 blank pixels masked"]
    assert np.nanmax(pixels) == pytest.approx(5.0)


def test_plain_fits_and_integer_data_read() -> None:
    pixels, notes = decode_stamp(_plain_fits(np.arange(12, dtype="i2").reshape(3, 4)), what="x")
    assert pixels.dtype == np.float32 and pixels[2, 3] == 11 and notes == []


def test_rubin_cutout_takes_the_image_extension() -> None:
    image = np.arange(25, dtype="f4").reshape(5, 5)
    pixels, notes = decode_stamp(rubin_cutout(image), what="difference stamp")
    np.testing.assert_array_equal(pixels, image)
    assert notes == []


def _ccddata_cutout(image: np.ndarray, uncertainty: Any, mask: np.ndarray | None = None) -> bytes:
    """A cutout as Rubin's pipeline writes it: astropy CCDData (image, MASK, UNCERT)."""
    ccd = CCDData(image, unit="nJy", uncertainty=uncertainty, mask=mask)
    buffer = io.BytesIO()
    ccd.write(buffer, format="fits")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("make", "bad_value"),
    [(VarianceUncertainty, 0.0), (StdDevUncertainty, np.nan), (VarianceUncertainty, -1.0)],
)
def test_pixels_without_variance_are_masked(make: Any, bad_value: float) -> None:
    image = np.arange(49, dtype="f8").reshape(7, 7)
    spread = np.full((7, 7), 4.0)
    spread[0, :3] = bad_value
    raw = _ccddata_cutout(image, make(spread), mask=np.zeros((7, 7), bool))
    pixels, notes = decode_stamp(raw, what="template stamp")
    assert np.isnan(pixels[0, :3]).all() and np.isfinite(pixels[1:]).all()
    np.testing.assert_array_equal(pixels[1:], image[1:])
    assert notes == ["template stamp: 3 pixels with no variance masked"]


def test_the_astropy_path_reads_the_variance_too() -> None:
    image = np.arange(16, dtype="i2").reshape(4, 4)
    hdus = fits.HDUList(
        [
            fits.PrimaryHDU(image, header=fits.Header({"BLANK": -32768})),
            fits.ImageHDU(np.where(image == 5, 0.0, 1.0).astype("f4"), name="VARIANCE"),
        ]
    )
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    assert read_plain_planes(buffer.getvalue()) is None  # BLANK: astropy reads it
    pixels, notes = decode_stamp(buffer.getvalue(), what="science stamp")
    assert np.isnan(pixels.flat[5]) and int(np.isnan(pixels).sum()) == 1
    assert notes == ["science stamp: 1 pixel with no variance masked"]


def test_the_no_data_mask_bit_masks_when_the_header_names_it() -> None:
    image = np.ones((6, 6), dtype="f4")
    flags = np.zeros((6, 6), dtype="i4")
    flags[2, 2] = 1 << 8  # NO_DATA
    flags[3, 3] = 1 << 5  # DETECTED: the source itself, kept
    planes = [fits.PrimaryHDU(), fits.ImageHDU(image, name="IMAGE")]
    mask = fits.ImageHDU(flags, name="MASK")
    mask.header["HIERARCH MP_NO_DATA"] = 8  # as the LSST stack names its mask planes
    planes.append(mask)
    buffer = io.BytesIO()
    fits.HDUList(planes).writeto(buffer)
    pixels, notes = decode_stamp(buffer.getvalue(), what="difference stamp")
    assert np.isnan(pixels[2, 2]) and int(np.isnan(pixels).sum()) == 1
    assert notes == ["difference stamp: 1 pixel with the NO_DATA mask bit masked"]


def test_an_unknown_extra_plane_is_noted() -> None:
    planes = [fits.PrimaryHDU(np.ones((4, 4), "f4")), fits.ImageHDU(np.ones((4, 4)), name="PSF")]
    buffer = io.BytesIO()
    fits.HDUList(planes).writeto(buffer)
    _, notes = decode_stamp(buffer.getvalue(), what="science stamp")
    assert notes == ["science stamp: HDUs PSF not used"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not fits at all",
        b"\x1f\x8b\x08\x00garbage",
        gzip.compress(b"SIMPLE  =  nonsense", mtime=0),
    ],
)
def test_corrupt_bytes_raise_naming_the_stamp(data: bytes) -> None:
    with pytest.raises(IngestError, match="template stamp") as raised:
        decode_stamp(data, what="template stamp")
    assert raised.value.field == "template stamp"


def test_jpeg_stamp_is_named_as_such() -> None:
    with pytest.raises(IngestError, match="a JPEG image, not FITS"):
        decode_stamp(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(100), what="science stamp")


@settings(max_examples=80, deadline=None)
@given(ny=st.integers(1, 90), nx=st.integers(1, 90))
def test_any_stamp_lands_centre_on_centre(ny: int, nx: int) -> None:
    stamp = np.arange(ny * nx, dtype="f4").reshape(ny, nx)
    triplet, notes = to_triplet(None, None, stamp)
    assert triplet.shape == (3, 63, 63)
    assert triplet[2, 31, 31] == stamp[ny // 2, nx // 2]
    assert int(np.isfinite(triplet[2]).sum()) == min(ny, 63) * min(nx, 63)
    # Neighbours keep their places: one step right in the stamp is one step right here.
    if nx // 2 + 1 < nx:
        assert triplet[2, 31, 32] == stamp[ny // 2, nx // 2 + 1]
    assert len(notes) == 2 + ((ny, nx) != (63, 63))


def test_fits_without_an_image_raises() -> None:
    with pytest.raises(IngestError, match="no 2-D image"):
        decode_stamp(_plain_fits(np.arange(5, dtype="f4")), what="science stamp")


def test_odd_header_is_a_note_not_a_warning() -> None:
    # BLANK on float data: astropy warns; the warning must become a note (warnings are errors).
    data = _plain_fits(np.ones((4, 4), dtype="f4"), BLANK=-32768)
    pixels, notes = decode_stamp(data, what="science stamp")
    assert pixels.shape == (4, 4)
    assert any("FITS header" in n for n in notes)


def test_triplet_pads_crops_and_marks_missing() -> None:
    science = np.ones((30, 30), dtype="f4")
    difference = np.arange(71 * 71, dtype="f4").reshape(71, 71)
    triplet, notes = to_triplet(science, None, difference)
    assert triplet.shape == (3, 63, 63) and triplet.dtype == np.float32
    assert notes == [
        "science stamp 30×30 padded",
        "template stamp missing",
        "difference stamp 71×71 cropped",
    ]
    # 30×30: centre pixel (15, 15) at (31, 31), so rows 16..45 filled.
    assert np.isfinite(triplet[0, 16:46, 16:46]).all()
    assert np.isnan(triplet[0, :16]).all() and np.isnan(triplet[0, 46:]).all()
    assert np.isnan(triplet[1]).all()
    assert triplet[2, 31, 31] == difference[35, 35]
    assert triplet[2, 0, 0] == difference[4, 4]


def test_edge_cut_stamp_is_placed_by_its_centre() -> None:
    stamp = np.arange(40 * 63, dtype="f4").reshape(40, 63)
    triplet, notes = to_triplet(stamp, stamp, stamp)
    assert notes == [f"{n} stamp 40×63 padded" for n in ("science", "template", "difference")]
    assert triplet[0, 31, 31] == stamp[20, 31]
    assert np.isnan(triplet[:, :11]).all() and np.isnan(triplet[:, 51:]).all()
    np.testing.assert_array_equal(triplet[0, 11:51], stamp)


def test_non_square_larger_and_smaller() -> None:
    triplet, notes = to_triplet(np.ones((80, 20)), None, None)
    assert notes[0] == "science stamp 80×20 padded and cropped"
    assert np.isfinite(triplet[0, :, 21:41]).all() and np.isnan(triplet[0, :, :21]).all()


def _astropy_pixels(raw: bytes) -> np.ndarray:
    with fits.open(io.BytesIO(raw)) as hdus:
        image = next(h for h in hdus if h.data is not None and h.data.ndim == 2)
        return np.asarray(image.data, dtype=np.float32)


@settings(max_examples=40, deadline=None)
@given(
    ny=st.integers(1, 70),
    nx=st.integers(1, 70),
    dtype=st.sampled_from(["f4", "f8", "i2", "i4", "u1", "i8"]),
    planes=st.booleans(),
)
def test_fast_path_reads_what_astropy_reads(ny: int, nx: int, dtype: str, planes: bool) -> None:
    data = (np.arange(ny * nx).reshape(ny, nx) % 200 - (0 if dtype == "u1" else 50)).astype(dtype)
    raw = rubin_cutout(data, with_planes=planes) if planes else _plain_fits(data)
    plain = read_plain_planes(raw)
    assert plain is not None
    np.testing.assert_array_equal(plain[0].pixels, _astropy_pixels(raw))
    assert [p.name for p in plain] == (["IMAGE", "MASK", "VARIANCE"] if planes else [""])


def test_scaled_integers_go_to_astropy() -> None:
    data = np.arange(12, dtype="i2").reshape(3, 4)
    raw = _plain_fits(data, BSCALE=2.0, BZERO=10.0)
    assert read_plain_planes(raw) is None
    pixels, _ = decode_stamp(raw, what="science stamp")
    np.testing.assert_array_equal(pixels, data * 2.0 + 10.0)


def test_cut_short_goes_to_astropy_and_fails_there() -> None:
    raw = _plain_fits(np.ones((20, 20), dtype="f4"))[:3000]
    assert read_plain_planes(raw) is None
    with pytest.raises(IngestError, match="science stamp"):
        decode_stamp(raw, what="science stamp")
