"""The marks over a cutout: crosshair on the candidate, north/east from the WCS, scale bar."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.wcs import WCS
from hypothesis import given, settings
from hypothesis import strategies as st

from astrid.difference.cutouts import wcs_from_header
from astrid.service.cutout_overlay import cutout_overlay

SIZE = 63
SCALE_ARCSEC = 0.4


def _wcs(rotation_deg: float, *, east_right: bool = False, dec: float = 2.0) -> WCS:
    """A TAN WCS with 0.4″ pixels, rotated by ``rotation_deg``; ``east_right`` flips RA."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, dec]
    wcs.wcs.crpix = [101.0, 101.0]  # 1-based: pixel (100, 100) 0-based
    s = SCALE_ARCSEC / 3600
    t = math.radians(rotation_deg)
    flip = 1.0 if east_right else -1.0
    # columns of CD: where a pixel step goes on the sky (xi east, eta north)
    wcs.wcs.cd = np.array([[flip * s * math.cos(t), -s * math.sin(t)],
                           [flip * s * math.sin(t), s * math.cos(t)]])  # fmt: skip
    return wcs


def _expected(wcs: WCS) -> tuple[np.ndarray, np.ndarray]:
    """North and east as display unit vectors (u right, v down) from the inverse CD matrix."""
    inverse = np.linalg.inv(wcs.wcs.cd)
    out = []
    for sky in ((0.0, 1.0), (1.0, 0.0)):  # north: +eta, east: +xi
        px = inverse @ np.array(sky)
        px /= np.hypot(*px)
        out.append(np.array([px[0], -px[1]]))
    return out[0], out[1]


def test_crosshair_is_on_the_candidate() -> None:
    marks = cutout_overlay(None, 100.0, 50.0, SIZE)
    assert marks.centre == (31.5, 31.5), "the centre of the central pixel"
    assert marks.compass is None and marks.scale_bar_pixels is None
    # sub-pixel positions: +x is right, +y is up (rows are flipped for display)
    shifted = cutout_overlay(None, 100.3, 49.8, SIZE)
    assert shifted.centre == pytest.approx((31.8, 31.7))


def test_north_up_east_left_for_a_standard_image() -> None:
    marks = cutout_overlay(_wcs(0.0), 100.0, 100.0, SIZE)
    assert marks.compass is not None
    assert marks.compass.north == pytest.approx((0.0, -1.0), abs=1e-6)
    assert marks.compass.east == pytest.approx((-1.0, 0.0), abs=1e-6)
    assert marks.compass.arcsec_per_pixel == pytest.approx(SCALE_ARCSEC, rel=1e-6)


@pytest.mark.parametrize("rotation", [30.0, 90.0, 135.0, -60.0, 180.0])
@pytest.mark.parametrize("east_right", [False, True])
def test_arrows_follow_a_rotated_or_flipped_wcs(rotation: float, east_right: bool) -> None:
    wcs = _wcs(rotation, east_right=east_right)
    north, east = _expected(wcs)
    marks = cutout_overlay(wcs, 100.0, 100.0, SIZE)
    assert marks.compass is not None
    assert marks.compass.north == pytest.approx(tuple(north), abs=1e-5)
    assert marks.compass.east == pytest.approx(tuple(east), abs=1e-5)
    # east is north turned 90° counter-clockwise on the sky seen from inside; on the
    # display that is clockwise-negative unless the image is mirrored
    cross = north[0] * east[1] - north[1] * east[0]
    assert cross == pytest.approx(1.0 if east_right else -1.0, abs=1e-5)


def test_a_flipped_image_has_east_to_the_right() -> None:
    marks = cutout_overlay(_wcs(0.0, east_right=True), 100.0, 100.0, SIZE)
    assert marks.compass is not None
    assert marks.compass.east == pytest.approx((1.0, 0.0), abs=1e-6)
    assert marks.compass.north == pytest.approx((0.0, -1.0), abs=1e-6)


def test_scale_bar_has_a_round_length_that_fits() -> None:
    marks = cutout_overlay(_wcs(20.0), 100.0, 100.0, SIZE)
    # 63 px × 0.4″ = 25″ wide: 5″ is the longest round length within 35 % of it
    assert marks.scale_bar_arcsec == 5.0 and marks.scale_bar_label == "5″"
    assert marks.scale_bar_pixels == pytest.approx(5.0 / SCALE_ARCSEC, rel=1e-5)


def test_stored_header_round_trip_and_bad_headers() -> None:
    wcs = _wcs(45.0)
    text = wcs.to_header(relax=True).tostring(sep="\n")
    marks = cutout_overlay(wcs_from_header(text), 100.0, 100.0, SIZE)
    assert marks.compass is not None
    assert marks.compass.north == pytest.approx(tuple(_expected(wcs)[0]), abs=1e-5)
    assert wcs_from_header(None) is None and wcs_from_header("") is None
    assert wcs_from_header("SIMPLE  =                    T\nNAXIS   =                    2") is None


@settings(max_examples=40, deadline=None)
@given(
    rotation=st.floats(-180, 180),
    east_right=st.booleans(),
    dec=st.floats(-80, 80),
    x=st.floats(0, 200),
    y=st.floats(0, 200),
)
def test_compass_is_orthonormal_anywhere(
    rotation: float, east_right: bool, dec: float, x: float, y: float
) -> None:
    marks = cutout_overlay(_wcs(rotation, east_right=east_right, dec=dec), x, y, SIZE)
    assert marks.compass is not None
    (nx, ny), (ex, ey) = marks.compass.north, marks.compass.east
    assert math.hypot(nx, ny) == pytest.approx(1.0) and math.hypot(ex, ey) == pytest.approx(1.0)
    assert abs(nx * ex + ny * ey) < 1e-3, "a conformal projection keeps N ⟂ E"
    assert 0 <= marks.centre[0] <= SIZE and 0 <= marks.centre[1] <= SIZE
