"""Tests for DLR geometry, reference extraction and host assignment."""

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.wcs import WCS

from astrid.context.host import (
    ContextInputError,
    _offsets,
    assign_hosts,
    directional_light_radius,
    on_bright_star,
)
from astrid.context.reference_sources import find_reference_sources


def test_dlr_on_axis_off_axis_rotated():
    assert directional_light_radius(np.array(0.0), np.array(2.0), 2.0, 1.0, 0.0) == pytest.approx(2)
    assert directional_light_radius(np.array(1.0), np.array(0.0), 2.0, 1.0, 0.0) == pytest.approx(1)
    assert directional_light_radius(np.array(1.0), np.array(0.0), 2.0, 1.0, 90.0) == pytest.approx(
        2
    )
    r = directional_light_radius(np.array(1.0), np.array(1.0), 2.0, 1.0, 0.0)
    assert r == pytest.approx(2.0 / np.sqrt(2.5))


def _wcs(n):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.0, 2.0]
    w.wcs.crpix = [n / 2, n / 2]
    w.wcs.cdelt = [-0.25 / 3600, 0.25 / 3600]
    return w


def _field(rng):
    n = 256
    yy, xx = np.mgrid[:n, :n]
    img = rng.normal(0, 1.0, (n, n))
    gals = [(60, 70, 8.0, 3.0, 0.3), (180, 150, 6.0, 4.0, 1.2), (100, 200, 10.0, 4.0, -0.7)]
    for x0, y0, sa, sb, th in gals:
        dx, dy = xx - x0, yy - y0
        u = dx * np.cos(th) + dy * np.sin(th)
        v = -dx * np.sin(th) + dy * np.cos(th)
        img += 200 * np.exp(-0.5 * ((u / sa) ** 2 + (v / sb) ** 2))
    s = 1.5
    img += 5e4 * np.exp(-0.5 * ((xx - 200) ** 2 + (yy - 40) ** 2) / s**2)
    return img, gals, _wcs(n)


def test_assign_hosts_on_simulated_field():
    img, gals, wcs = _field(np.random.default_rng(1))
    src = find_reference_sources(img, wcs, psf_fwhm_px=3.5, background_rms=1.0, saturation=6e4)
    assert src["extended"].sum() == 3
    assert src["bright_star"].sum() == 1
    for x0, y0, sa, _sb, th in gals:
        # transient offset along the major axis by one sigma
        tx, ty = x0 + sa * np.cos(th), y0 + sa * np.sin(th)
        sky = wcs.pixel_to_world(tx, ty)
        (m,) = assign_hosts(src, sky.ra.deg, sky.dec.deg)
        assert m is not None
        hx, hy = wcs.world_to_pixel_values(m.ra, m.dec)
        assert np.hypot(hx - x0, hy - y0) < 2
        assert 0.3 < m.dlr < 1.5
    star = wcs.pixel_to_world(200.5, 40)
    assert on_bright_star(src, [star.ra.deg], [star.dec.deg]).tolist() == [True]
    far = wcs.pixel_to_world(240, 240)
    assert assign_hosts(src, far.ra.deg, far.dec.deg, max_dlr=2.0) == [None]


def test_bad_inputs():
    img, _g, wcs = _field(np.random.default_rng(2))
    src = find_reference_sources(img, wcs, psf_fwhm_px=3.5, background_rms=1.0)
    with pytest.raises(ContextInputError, match="NaN"):
        assign_hosts(src, [np.nan], [2.0])
    empty = src[:0]
    assert assign_hosts(empty, [150.0], [2.0]) == [None]
    assert on_bright_star(empty, [150.0], [2.0]).tolist() == [False]
    with pytest.raises(ContextInputError, match="missing column"):
        assign_hosts(Table({"ra": [1.0]}), [1.0], [1.0])


def test_bright_stars_are_not_extended_and_galaxies_are() -> None:
    import numpy as np
    from astropy.wcs import WCS

    from astrid.context import find_reference_sources

    rng = np.random.default_rng(4)
    size, fwhm = 400, 3.0
    y, x = np.mgrid[:size, :size]
    image = rng.normal(0, 1.0, (size, size))
    stars = rng.uniform(20, size - 20, (25, 2))
    galaxies = rng.uniform(20, size - 20, (10, 2))
    sigma = fwhm / 2.355
    for (sx, sy), flux in zip(stars, 10 ** rng.uniform(2.5, 5, len(stars)), strict=True):
        # Moffat-like wings: a core and a broad halo, as real PSFs have
        r2 = (x - sx) ** 2 + (y - sy) ** 2
        image += flux / (2 * np.pi * sigma**2) * (0.9 * np.exp(-r2 / (2 * sigma**2)))
        image += flux / (2 * np.pi * (3 * sigma) ** 2) * 0.1 * np.exp(-r2 / (18 * sigma**2))
    for gx, gy in galaxies:
        image += 30 * np.exp(-np.hypot(x - gx, y - gy) / rng.uniform(3, 6))
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [size / 2, size / 2]
    wcs.wcs.cdelt = [-0.5 / 3600, 0.5 / 3600]
    sources = find_reference_sources(image, wcs, psf_fwhm_px=fwhm, background_rms=1.0)
    xy = np.column_stack([sources["x"], sources["y"]])

    def nearest(points: np.ndarray) -> np.ndarray:
        d = np.hypot(*(xy[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
        found = d.min(axis=0) < 2
        return np.asarray(sources["extended"])[d.argmin(axis=0)][found]

    assert not nearest(stars).any(), "a star was called extended"
    assert nearest(galaxies).mean() >= 0.8


@pytest.mark.parametrize(("ra", "dec"), [(150.0, 2.0), (359.99, -30.0), (0.005, 89.9)])
def test_offsets_match_astropys_sky_offset_frame(ra: float, dec: float) -> None:
    rng = np.random.default_rng(1)
    sources = Table(
        {
            "ra": (ra + rng.uniform(-0.05, 0.05, 50)) % 360.0,
            "dec": np.clip(dec + rng.uniform(-0.05, 0.05, 50), -90.0, 90.0),
        }
    )
    dx, dy = _offsets(sources, ra, dec)
    frame = SkyCoord(ra, dec, unit="deg").skyoffset_frame()
    expected = SkyCoord(sources["ra"], sources["dec"], unit="deg").transform_to(frame)
    assert np.allclose(dx, -expected.lon.to_value("arcsec"), atol=1e-6)
    assert np.allclose(dy, -expected.lat.to_value("arcsec"), atol=1e-6)
