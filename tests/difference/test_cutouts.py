"""Cutouts: placement at the image edge and the WCS of a cutout."""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from astrid.difference import (
    CutoutWcsCards,
    cutout,
    cutout_origin,
    cutout_wcs,
    wcs_from_header,
)
from astrid.difference.cutouts import cutout_fits


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


def _sip_wcs() -> WCS:
    wcs = _wcs()
    header = wcs.to_header()
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    header.update({"A_ORDER": 2, "B_ORDER": 2, "A_2_0": 2e-6, "B_0_2": -1e-6, "A_1_1": 5e-7})
    return WCS(header)


@pytest.mark.parametrize("make", [_wcs, _sip_wcs])
@pytest.mark.parametrize(("x", "y"), [(40.3, 60.7), (3.0, 2.0), (1500.0, 995.5)])
def test_cutout_wcs_cards_are_the_cutout_wcs(make: object, x: float, y: float) -> None:
    """The cards rendered once and patched per cutout give `cutout_wcs`'s WCS."""
    wcs = make()  # type: ignore[operator]
    cards = CutoutWcsCards(wcs).at(x, y)
    assert len(cards) % 80 == 0
    read = WCS(fits.Header.fromstring(cards.decode("ascii")))
    expected = cutout_wcs(wcs, x, y).to_header(relax=True)
    for key in expected:
        assert key in read.to_header(relax=True), key
    x0, y0 = cutout_origin(x, y)
    for u, v in [(0.0, 0.0), (31.0, 31.0), (62.0, 10.0)]:
        np.testing.assert_allclose(
            read.pixel_to_world_values(u, v), wcs.pixel_to_world_values(x0 + u, y0 + v), atol=1e-12
        )


def test_cutout_fits_takes_whole_cards_only() -> None:
    raw = cutout_fits(np.zeros((3, 3)), extra=CutoutWcsCards(_wcs()).at(1.0, 1.0, size=3))
    with fits.open(io.BytesIO(raw)) as hdus:
        assert hdus[0].header["CRPIX1"] == pytest.approx(100.5 - (1 - 1))
    with pytest.raises(ValueError, match="80 characters"):
        cutout_fits(np.zeros((3, 3)), extra=b"CRPIX1  = 1")
