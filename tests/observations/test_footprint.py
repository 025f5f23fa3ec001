"""`overlap_fraction`: the share of one image's sky inside another, from the WCS alone."""

from __future__ import annotations

import pytest
from astropy.wcs import WCS

from astrid.observations.footprint import overlap_fraction


def _tan(ra: float, dec: float, scale_arcsec: float = 1.0) -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [100.5, 100.5]
    wcs.wcs.cdelt = [-scale_arcsec / 3600, scale_arcsec / 3600]
    return wcs


def test_overlap_of_shifted_and_separate_fields() -> None:
    here = _tan(150.0, 2.0)
    assert overlap_fraction(here, (200, 200), here, (200, 200)) == 1.0
    # the other image shifted by half its width (100″ east): half the sky is shared
    east = _tan(150.0 + 100 / 3600 / 0.99939, 2.0)
    assert overlap_fraction(here, (200, 200), east, (200, 200), step=4) == pytest.approx(
        0.5, abs=0.03
    )
    assert overlap_fraction(here, (200, 200), _tan(160.0, 2.0), (200, 200)) == 0.0
    # a big image covers all of a small one inside it, not the other way round
    wide = _tan(150.0, 2.0, scale_arcsec=4.0)
    assert overlap_fraction(here, (200, 200), wide, (200, 200)) == 1.0
    assert overlap_fraction(wide, (200, 200), here, (200, 200), step=4) == pytest.approx(
        1 / 16, abs=0.02
    )
    # the far side of the sky does not project into a TAN image
    assert overlap_fraction(here, (200, 200), _tan(330.0, -2.0), (200, 200)) == 0.0
