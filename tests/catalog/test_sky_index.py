"""HEALPix index ranges of a cone: they cover every point inside it, and stay few."""

from __future__ import annotations

import itertools

import astropy.units as u
import numpy as np
import pytest
from astropy_healpix import HEALPix
from hypothesis import given, settings
from hypothesis import strategies as st

from astrid.catalog.models import HEALPIX_NSIDE
from astrid.catalog.sky_index import angular_separation_deg, cone_ranges

FINE = HEALPix(nside=HEALPIX_NSIDE, order="nested")


@settings(max_examples=60, deadline=None)
@given(
    ra=st.floats(0, 360, exclude_max=True),
    dec=st.floats(-90, 90),
    radius=st.floats(1e-4, 5.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_ranges_cover_the_cone(ra: float, dec: float, radius: float, seed: int) -> None:
    ranges = cone_ranges(ra, dec, radius)
    assert ranges == sorted(ranges)
    assert all(a < b for a, b in ranges)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(ranges))
    assert len(ranges) <= 64
    # points inside the cone (random bearings and distances) fall in one of the ranges
    rng = np.random.default_rng(seed)
    bearing = rng.uniform(0, 2 * np.pi, 200)
    distance = radius * np.sqrt(rng.uniform(0, 1, 200)) * 0.999
    lon, lat = _offset(ra, dec, bearing, distance)
    inside = angular_separation_deg(lon, lat, ra, dec) <= radius
    assert inside.mean() > 0.9
    lon, lat = lon[inside], lat[inside]
    pix = FINE.lonlat_to_healpix(lon * u.deg, lat * u.deg)
    starts = np.array([a for a, _ in ranges])
    stops = np.array([b for _, b in ranges])
    slot = np.searchsorted(starts, pix, side="right") - 1
    assert np.all(slot >= 0) and np.all(pix < stops[slot])


def _offset(
    ra: float, dec: float, bearing: np.ndarray, distance_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Points at ``distance`` along ``bearing`` from (ra, dec) (spherical trigonometry)."""
    d, b = np.radians(distance_deg), bearing
    phi1, lam1 = np.radians(dec), np.radians(ra)
    phi2 = np.arcsin(np.sin(phi1) * np.cos(d) + np.cos(phi1) * np.sin(d) * np.cos(b))
    lam2 = lam1 + np.arctan2(
        np.sin(b) * np.sin(d) * np.cos(phi1), np.cos(d) - np.sin(phi1) * np.sin(phi2)
    )
    return np.degrees(lam2) % 360.0, np.degrees(phi2)


def test_bad_cones_are_refused() -> None:
    for args in ((0.0, 91.0, 1.0), (0.0, 0.0, 0.0), (0.0, 0.0, 181.0), (np.nan, 0.0, 1.0)):
        with pytest.raises(ValueError):
            cone_ranges(*args)


@pytest.mark.parametrize("radius_deg", [1e-307 / 3600, 5e-324, 1e-12])
def test_tiny_cones_are_the_centre_pixel_and_its_neighbours(radius_deg: float) -> None:
    # a radius like 1e-307 arcsec overflowed the order computation (500 in the API)
    ranges = cone_ranges(150.0, 2.0, radius_deg)
    assert 1 <= sum(b - a for a, b in ranges) <= 9


def test_separation_is_exact_at_small_and_large_angles() -> None:
    assert angular_separation_deg(10.0, 0.0, 10.0 + 1e-7, 0.0) == pytest.approx(1e-7)
    assert angular_separation_deg(0.0, 0.0, 180.0, 0.0) == pytest.approx(180.0)
    assert angular_separation_deg(0.0, 90.0, 123.0, 89.0) == pytest.approx(1.0)
