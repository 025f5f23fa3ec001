"""Cutouts: placement at the image edge and the WCS of a cutout."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.wcs import WCS

from astrid.difference import cutout, cutout_origin, cutout_wcs, wcs_from_header


def _wcs() -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [100.5, 80.25]
    wcs.wcs.cdelt = [-0.2 / 3600, 0.2 / 3600]
    return wcs


def test_cutout_is_centred_and_nan_off_image() -> None:
    image = np.arange(100 * 120, dtype=np.float32).reshape(100, 120)
    stamp = cutout(image, 5.4, 50.6, size=11)
    assert cutout_origin(5.4, 50.6, size=11) == (0, 46)
    assert stamp[5, 5] == image[51, 5]
    assert np.all(np.isnan(stamp[:, :0])) and not np.isnan(stamp).any()
    edge = cutout(image, 2.0, 50.0, size=11)
    assert np.isnan(edge[:, :3]).all() and edge[5, 5] == image[50, 2]


@pytest.mark.parametrize(("x", "y"), [(40.3, 60.7), (3.0, 2.0), (150.0, 95.5)])
def test_cutout_wcs_maps_stamp_pixels_to_the_same_sky(x: float, y: float) -> None:
    wcs = _wcs()
    x0, y0 = cutout_origin(x, y)
    stamp = cutout_wcs(wcs, x, y)
    for u, v in [(0.0, 0.0), (31.0, 31.0), (62.0, 10.0)]:
        expected = wcs.pixel_to_world_values(x0 + u, y0 + v)
        np.testing.assert_allclose(stamp.pixel_to_world_values(u, v), expected, atol=1e-12)
    assert tuple(wcs.wcs.crpix) == (100.5, 80.25)  # the image's WCS is not changed


def test_wcs_from_header_round_trips() -> None:
    text = _wcs().to_header().tostring(sep="\n")
    read = wcs_from_header(text)
    assert read is not None
    np.testing.assert_allclose(read.wcs.crval, [150.0, 2.0])
    assert wcs_from_header(None) is None
