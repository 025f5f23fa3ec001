"""Photometric calibration against a reference catalogue, on a simulated pair whose zero
point is known (the simulator's MAGZP, removed from the header before calibrating).

The zero point converts the pipeline's PSF-fit fluxes into catalogue magnitudes, so its
truth is MAGZP corrected by the median ratio of those fluxes to the true ones (on a small
field the PSF model, from ~35 stars, puts a few per cent of the flux into its wings, and
the zero point absorbs that so that magnitudes stay right).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest
from astropy.table import Table
from astropy.wcs import WCS

from astrid.observations.image import Image
from astrid.preprocess.pair import PreparedPair, prepare_pair
from astrid.preprocess.photometric import psf_flux
from astrid.preprocess.photometric_catalogue import photometric_catalogue_from_table
from astrid.preprocess.zero_point import PhotometricCatalogue, band_of
from astrid.simulation import SimulatedPair, SimulationConfig, simulate_pair
from astrid.simulation.config import SCIENCE_ZERO_POINT
from astrid.simulation.reference_stars import reference_star_table

FIELD = SimulationConfig(
    shape=(512, 512), n_stars=300, n_galaxies=20, n_transients=10, n_transients_on_galaxies=5
)


@pytest.fixture(scope="module")
def sim() -> SimulatedPair:
    return simulate_pair(FIELD, seed=5)


def _stars(sim: SimulatedPair) -> Table:
    truth = sim.truth
    return truth[truth["kind"] == "star"]


def _catalogue(
    sim: SimulatedPair,
    *,
    seed: int = 0,
    outliers: float = 0.0,
    colour_term: float | None = None,
    band: str = "r",
) -> PhotometricCatalogue:
    """The simulated stars as a catalogue (`reference_star_table`), named for the messages."""
    table = reference_star_table(sim.truth, seed=seed, outliers=outliers, colour_term=colour_term)
    catalogue = photometric_catalogue_from_table(table, "r", "test catalogue")
    return replace(catalogue, band=band)


def _effective_zero_point(pair: PreparedPair, stars: Table) -> float:
    """MAGZP for the pipeline's fluxes: the true zero point plus 2.5 log10 of the median
    ratio of PSF-fit to true flux of bright stars."""
    ratios = []
    for star in stars:
        flux, err = psf_flux(
            pair.science, pair.mask, pair.science_psf, star["x"], star["y"], pair.science_sigma
        )
        if np.isfinite(flux) and flux > 20 * err:
            ratios.append(flux / star["flux_science"])
    return SCIENCE_ZERO_POINT + 2.5 * float(np.log10(np.median(ratios)))


def _without_zero_point(sim: SimulatedPair) -> SimulatedPair:
    science = replace(sim.science, meta=replace(sim.science.meta, zero_point=None))
    reference = replace(sim.reference, meta=replace(sim.reference.meta, zero_point=None))
    return replace(sim, science=science, reference=reference)


@pytest.mark.parametrize(
    ("name", "band"),
    [
        ("r", "r"),
        ("SDSS r'", "r"),
        ("i DECam SDSS c0003 7835.0 1470.0", "i"),
        ("ZTF_g", "g"),
        ("gp", "g"),
        ("z-band", "z"),
        ("L", None),
        ("Clear", None),
        ("", None),
        (None, None),
    ],
)
def test_band_of_a_filter_name(name: str | None, band: str | None) -> None:
    assert band_of(name) == band


def test_zero_point_from_a_catalogue_with_outliers_matches_the_truth(sim: SimulatedPair) -> None:
    bare = _without_zero_point(sim)
    catalogue = _catalogue(sim, outliers=0.1)
    pair = prepare_pair(bare.science, bare.reference, catalogue=catalogue)
    cal = pair.calibration
    assert cal is not None and pair.zero_point_source == "catalogue"
    assert pair.zero_point == cal.value
    truth = _effective_zero_point(pair, _stars(sim))
    assert abs(cal.value - truth) < max(3 * cal.error, 0.01)
    assert abs(truth - SCIENCE_ZERO_POINT) < 0.08
    assert 0 < cal.error < 0.02
    assert cal.n_stars >= 15 and cal.colour_term is None
    # the stars 0.5-1 mag off are clipped: the scatter is the catalogue's noise, not theirs
    assert cal.scatter < 0.06
    assert pair.stats["zero_point_stars"] == cal.n_stars


def test_a_colour_term_is_fitted_and_the_zero_point_quoted_at_the_median_colour(
    sim: SimulatedPair,
) -> None:
    bare = _without_zero_point(sim)
    catalogue = _catalogue(sim, seed=1, colour_term=0.15)
    pair = prepare_pair(bare.science, bare.reference, catalogue=catalogue)
    cal = pair.calibration
    assert cal is not None and cal.colour_term is not None and cal.colour_zero is not None
    assert abs(cal.colour_term - 0.15) < 0.05
    truth = _effective_zero_point(pair, _stars(sim)) + 0.15 * cal.colour_zero
    assert abs(cal.value - truth) < max(3 * cal.error, 0.01)


def test_a_catalogue_of_another_field_leaves_the_header_zero_point(
    sim: SimulatedPair, caplog: pytest.LogCaptureFixture
) -> None:
    catalogue = _catalogue(sim)
    elsewhere = replace(catalogue, dec=catalogue.dec + 1.0)
    with caplog.at_level(logging.WARNING):
        pair = prepare_pair(sim.science, sim.reference, catalogue=elsewhere)
    assert pair.calibration is None
    assert pair.zero_point == sim.science.meta.zero_point and pair.zero_point_source == "header"
    assert "no catalogue zero point" in caplog.text and "test catalogue" in caplog.text


def test_a_catalogue_of_another_band_is_not_used(
    sim: SimulatedPair, caplog: pytest.LogCaptureFixture
) -> None:
    bare = _without_zero_point(sim)
    catalogue = _catalogue(sim, band="g")  # the simulated frames are r
    with caplog.at_level(logging.WARNING):
        pair = prepare_pair(bare.science, bare.reference, catalogue=catalogue)
    assert pair.calibration is None and pair.zero_point is None
    assert pair.zero_point_source is None
    assert "band r" in caplog.text and "band g" in caplog.text


def _binned(image: Image, k: int) -> Image:
    """``image`` summed in k×k blocks (flux and zero point kept) on the same sky: pixels k
    times wider, as a survey template of another scale is."""
    assert image.wcs is not None
    ny, nx = (s // k * k for s in image.shape)
    data = image.data[:ny, :nx].reshape(ny // k, k, nx // k, k).sum(axis=(1, 3))
    mask = image.mask[:ny, :nx].reshape(ny // k, k, nx // k, k).any(axis=(1, 3))
    header = image.wcs.to_header()  # astropy writes PC + CDELT
    for axis in (1, 2):
        header[f"CDELT{axis}"] = header.get(f"CDELT{axis}", 1.0) * k
        header[f"CRPIX{axis}"] = (header[f"CRPIX{axis}"] - 0.5) / k + 0.5
    wcs = WCS(header)
    meta = replace(image.meta, saturation=image.meta.saturation * k * k)
    return replace(image, data=data.astype(np.float32), mask=mask, wcs=wcs, meta=meta)


@pytest.mark.parametrize("k", [1, 2])
def test_the_reference_header_zero_point_carries_over_at_any_pixel_scale(
    sim: SimulatedPair, k: int
) -> None:
    """A science frame without a zero point takes the reference's, through the flux ratio
    and the pixel areas: a reference on pixels twice as wide (a survey template) holds a
    source's flux on a quarter of the pixels, which resampling onto the science grid does
    not keep (it keeps surface brightness)."""
    science = replace(sim.science, meta=replace(sim.science.meta, zero_point=None))
    reference = _binned(sim.reference, k)
    pair = prepare_pair(science, reference)
    assert pair.zero_point_source == "reference header"
    assert pair.zero_point == pytest.approx(SCIENCE_ZERO_POINT, abs=0.05)
