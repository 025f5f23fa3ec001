"""Tests of astrid.observations.validate."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.wcs import WCS, Sip

from astrid.errors import IncompatibleImagesError, InvalidImageError
from astrid.observations.image import Image, ImageMeta
from astrid.observations.validate import check_compatible, check_usable, overlap_fraction

SHAPE = (100, 120)  # (ny, nx)
SCALE_DEG = 1.0 / 3600.0


def _wcs(ra: float = 150.0, dec: float = 2.0, shape: tuple[int, int] = SHAPE) -> WCS:
    ny, nx = shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(nx + 1) / 2.0, (ny + 1) / 2.0]
    wcs.wcs.cd = [[-SCALE_DEG, 0.0], [0.0, SCALE_DEG]]
    return wcs


def _image(
    path: str, wcs: WCS | None, band: str | None = "r", shape: tuple[int, int] = SHAPE
) -> Image:
    return Image(
        data=np.zeros(shape, np.float32),
        mask=np.zeros(shape, bool),
        wcs=wcs,
        meta=ImageMeta(name=path, filter=band),
        path=path,
    )


def test_same_field_overlaps_fully() -> None:
    assert check_compatible(_image("sci.fits", _wcs()), _image("ref.fits", _wcs())) == 1.0


def test_half_shifted_field_overlaps_by_half() -> None:
    # Move the reference by half the science width towards +x (RA decreases with x).
    shift_deg = SHAPE[1] / 2 * SCALE_DEG / np.cos(np.radians(2.0))
    science = _image("sci.fits", _wcs())
    reference = _image("ref.fits", _wcs(ra=150.0 - shift_deg))
    overlap = check_compatible(science, reference, min_overlap=0.2)
    assert overlap == pytest.approx(0.5, abs=1.0 / 32)


def test_larger_reference_covers_science() -> None:
    science = _image("sci.fits", _wcs())
    reference = _image("ref.fits", _wcs(shape=(400, 400)), shape=(400, 400))
    assert check_compatible(science, reference) == 1.0
    # The other way round only the middle of the big image is covered.
    assert overlap_fraction(reference.wcs, (400, 400), science.wcs, SHAPE) == pytest.approx(
        (100 * 120) / (400 * 400), abs=0.03
    )


@pytest.mark.parametrize(
    ("ra", "dec"),
    [(150.2, 2.0), (330.0, -2.0)],  # next door; the far side of the sky (TAN gives NaN)
    ids=["adjacent", "antipodal"],
)
def test_non_overlapping_fields(ra: float, dec: float) -> None:
    science = _image("sci.fits", _wcs())
    reference = _image("ref.fits", _wcs(ra=ra, dec=dec))
    with pytest.raises(IncompatibleImagesError, match="overlap") as info:
        check_compatible(science, reference)
    assert "sci.fits" in str(info.value) and "ref.fits" in str(info.value)
    assert info.value.overlap == 0.0
    assert info.value.min_overlap == 0.2


def test_small_overlap_below_threshold() -> None:
    shift_deg = SHAPE[1] * 0.9 * SCALE_DEG / np.cos(np.radians(2.0))
    science = _image("sci.fits", _wcs())
    reference = _image("ref.fits", _wcs(ra=150.0 - shift_deg))
    with pytest.raises(IncompatibleImagesError) as info:
        check_compatible(science, reference, min_overlap=0.2)
    assert info.value.overlap == pytest.approx(0.1, abs=1.0 / 32)
    assert check_compatible(science, reference, min_overlap=0.05) == pytest.approx(
        0.1, abs=1.0 / 32
    )


def test_mismatched_filters() -> None:
    science = _image("sci.fits", _wcs(), band="r")
    reference = _image("ref.fits", _wcs(), band="g")
    with pytest.raises(IncompatibleImagesError, match="different bands") as info:
        check_compatible(science, reference)
    assert "sci.fits" in str(info.value) and "ref.fits" in str(info.value)


@pytest.mark.parametrize(("a", "b"), [(" R ", "r"), ("SDSS  i", "sdss i"), (None, "g"), ("g", "")])
def test_equivalent_or_unknown_filters_pass(a: str | None, b: str | None) -> None:
    science = _image("sci.fits", _wcs(), band=a)
    reference = _image("ref.fits", _wcs(), band=b)
    assert check_compatible(science, reference) == 1.0


@pytest.mark.parametrize("which", ["science", "reference"])
def test_missing_wcs(which: str) -> None:
    science = _image("sci.fits", None if which == "science" else _wcs())
    reference = _image("ref.fits", None if which == "reference" else _wcs())
    with pytest.raises(IncompatibleImagesError, match=f"no WCS on the {which}") as info:
        check_compatible(science, reference)
    assert "sci.fits" in str(info.value) and "ref.fits" in str(info.value)


def test_sip_reference_far_away_does_not_raise_convergence_errors() -> None:
    reference_wcs = _wcs(ra=151.0)
    reference_wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    a = np.zeros((3, 3))
    a[2, 0] = 1e-4
    reference_wcs.sip = Sip(a, np.zeros((3, 3)), None, None, reference_wcs.wcs.crpix)
    science = _image("sci.fits", _wcs())
    with pytest.raises(IncompatibleImagesError):
        check_compatible(science, _image("ref.fits", reference_wcs))


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_min_overlap_out_of_range(bad: float) -> None:
    image = _image("sci.fits", _wcs())
    with pytest.raises(ValueError, match="min_overlap"):
        check_compatible(image, image, min_overlap=bad)


@pytest.mark.parametrize("value", [0.0, 7.5])
def test_constant_image_is_not_usable(value: float) -> None:
    image = _image("flat.fits", _wcs())
    image = image.with_data(np.full(SHAPE, value, np.float32))
    with pytest.raises(InvalidImageError, match=r"flat\.fits: reference image has no signal") as e:
        check_usable(image, "reference")
    assert e.value.details["value"] == value


def test_masked_pixels_do_not_count_as_signal() -> None:
    data = np.zeros(SHAPE, np.float32)
    data[0, 0] = 1e4  # a hot pixel, masked
    mask = np.zeros(SHAPE, bool)
    mask[0, 0] = True
    image = _image("hot.fits", _wcs()).with_data(data, mask)
    with pytest.raises(InvalidImageError, match="no signal"):
        check_usable(image, "science")
    check_usable(image.with_data(data, np.zeros(SHAPE, bool)), "science")  # unmasked: signal
