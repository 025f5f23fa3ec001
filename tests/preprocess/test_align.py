"""Tests of the reference → science alignment on simulated pairs with known star positions."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pytest
import sep
from astropy.wcs import WCS
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from astrid.errors import AlignmentError
from astrid.observations.image import Image
from astrid.preprocess.align import Alignment, _resample, align_reference, match_positions
from astrid.preprocess.background import estimate_background
from astrid.preprocess.masks import build_mask
from astrid.preprocess.psf import find_stars
from astrid.simulation import SimulatedPair, SimulationConfig, simulate_pair

CONFIG = SimulationConfig(
    shape=(512, 512),
    n_stars=300,
    n_galaxies=40,
    n_transients=20,
    n_transients_on_galaxies=4,
    n_variables=4,
    n_cosmic_rays=10,
    n_hot_pixels=10,
    n_bad_columns=1,
)


@dataclass
class Prepared:
    data: np.ndarray  # background-subtracted
    mask: np.ndarray
    bright_xy: np.ndarray  # SNR > 20, brightest first (as prepare_pair passes them)


def _prepare(image: Image) -> Prepared:
    masks = build_mask(image)
    bkg = estimate_background(masks.cleaned, masks.mask)
    data = (masks.cleaned - bkg.level).astype(np.float32)
    stars = find_stars(
        np.where(masks.mask, 0.0, data).astype(np.float32),
        bkg.rms,
        masks.mask,
        saturation=image.meta.saturation - bkg.global_level,
    )
    snr = stars.flux / np.maximum(stars.flux_err, 1e-30)
    keep = np.flatnonzero(snr > 20)
    keep = keep[np.argsort(-stars.flux[keep])]
    return Prepared(data, masks.mask, np.column_stack([stars.x[keep], stars.y[keep]]))


@pytest.fixture(scope="module")
def sim() -> SimulatedPair:
    return simulate_pair(CONFIG, seed=3)


@pytest.fixture(scope="module")
def prepared(sim: SimulatedPair) -> dict[str, Prepared]:
    return {"science": _prepare(sim.science), "reference": _prepare(sim.reference)}


def _align(
    sim: SimulatedPair, prepared: dict[str, Prepared], reference_wcs: WCS | None = None
) -> Alignment:
    ref, sci = prepared["reference"], prepared["science"]
    return align_reference(
        ref.data,
        ref.mask,
        sim.reference.wcs if reference_wcs is None else reference_wcs,
        ref.bright_xy,
        sim.science.wcs,
        sci.bright_xy,
        CONFIG.shape,
    )


@pytest.fixture(scope="module")
def by_wcs(sim: SimulatedPair, prepared: dict[str, Prepared]) -> Alignment:
    return _align(sim, prepared)


@pytest.fixture(scope="module")
def by_asterisms(sim: SimulatedPair, prepared: dict[str, Prepared]) -> Alignment:
    wcs = copy.deepcopy(sim.reference.wcs)
    wcs.wcs.crpix = wcs.wcs.crpix + np.array([30.0, 0.0])  # the WCS is off by 30 px
    wcs.wcs.set()
    return _align(sim, prepared, wcs)


def _bright_isolated_stars(sim: SimulatedPair) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = sim.truth
    x, y = np.asarray(t["x"]), np.asarray(t["y"])
    sel = (np.asarray(t["kind"]) == "star") & (np.asarray(t["snr"]) > 50)
    sel &= (x > 20) & (x < 491) & (y > 20) & (y < 491)
    return x[sel], y[sel], np.asarray(t["flux_reference"])[sel]


def _check_matches_science(sim: SimulatedPair, alignment: Alignment) -> None:
    """Stars sit at their science positions in the aligned reference, with their flux."""
    x, y, flux_ref = _bright_isolated_stars(sim)
    data = np.ascontiguousarray(np.where(alignment.mask, 0.0, alignment.data), dtype=np.float32)
    cx, cy, flag = sep.winpos(data, x, y, np.full(len(x), 1.2))
    ok = (flag == 0) & ~alignment.mask[np.round(y).astype(int), np.round(x).astype(int)]
    assert ok.sum() >= 30
    assert np.sqrt(np.mean((cx - x)[ok] ** 2)) < 0.05
    assert np.sqrt(np.mean((cy - y)[ok] ** 2)) < 0.05
    assert abs(np.median((cx - x)[ok])) < 0.02 and abs(np.median((cy - y)[ok])) < 0.02
    # Resampling keeps the flux (same pixel scale): aperture flux / true reference flux.
    flux, _, _ = sep.sum_circle(data, x[ok], y[ok], 10.0)
    assert np.median(flux / flux_ref[ok]) == pytest.approx(1.0, abs=0.02)


def test_alignment_by_wcs_and_matched_stars(sim: SimulatedPair, by_wcs: Alignment) -> None:
    assert not by_wcs.used_asterisms
    assert by_wcs.n_matched >= 30
    assert max(by_wcs.residual_rms) < 0.1
    assert max(by_wcs.registration_error) < 0.02
    assert by_wcs.data.shape == by_wcs.mask.shape == by_wcs.lost_variance.shape == CONFIG.shape
    assert by_wcs.data.dtype == np.float32
    # The reference is offset by ~6 px: a strip at the edge is outside its footprint.
    assert 0.01 < by_wcs.mask.mean() < 0.1
    _check_matches_science(sim, by_wcs)


def test_wcs_off_by_30_px_still_aligns_by_asterisms(
    sim: SimulatedPair, by_wcs: Alignment, by_asterisms: Alignment
) -> None:
    assert by_asterisms.used_asterisms
    assert by_asterisms.n_matched >= 30
    assert max(by_asterisms.residual_rms) < 0.1
    _check_matches_science(sim, by_asterisms)
    # Same mapping as through the right WCS: the images agree to a small fraction of
    # the star peaks.
    both = ~by_wcs.mask & ~by_asterisms.mask
    diff = np.abs(by_wcs.data - by_asterisms.data)[both]
    assert diff.max() < 0.002 * np.abs(by_wcs.data[both]).max()
    assert abs(by_wcs.mask.mean() - by_asterisms.mask.mean()) < 0.005


def test_starless_reference_raises_alignment_error(
    sim: SimulatedPair, prepared: dict[str, Prepared]
) -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 30.0, CONFIG.shape).astype(np.float32)
    empty = _prepare(sim.reference.with_data(noise + np.float32(1600.0)))
    assert len(empty.bright_xy) == 0
    sci = prepared["science"]
    with pytest.raises(AlignmentError, match="reference") as info:
        align_reference(
            empty.data,
            empty.mask,
            sim.reference.wcs,
            empty.bright_xy,
            sim.science.wcs,
            sci.bright_xy,
            CONFIG.shape,
        )
    assert info.value.n_reference == 0


def test_unrelated_stars_raise_alignment_error(
    sim: SimulatedPair, prepared: dict[str, Prepared]
) -> None:
    rng = np.random.default_rng(1)
    ref = prepared["reference"]
    random_xy = rng.uniform(0, 512, size=(15, 2))
    with pytest.raises(AlignmentError):
        align_reference(
            ref.data,
            ref.mask,
            sim.reference.wcs,
            random_xy,
            sim.science.wcs,
            prepared["science"].bright_xy,
            CONFIG.shape,
        )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 60),
    shift=st.tuples(st.floats(-1.0, 1.0), st.floats(-1.0, 1.0)),
)
def test_match_positions_recovers_a_shifted_permutation(
    seed: int, n: int, shift: tuple[float, float]
) -> None:
    rng = np.random.default_rng(seed)
    # Points on a jittered grid, at least 6 px apart, so the nearest neighbours are clear.
    grid = np.array([(x, y) for x in range(0, 80, 10) for y in range(0, 80, 10)], float)
    a = grid[rng.permutation(len(grid))[:n]] + rng.uniform(-2, 2, size=(n, 2))
    order = rng.permutation(n)
    b = a[order] + np.array(shift)
    ia, ib = match_positions(a, b, radius=2.0)
    assert len(ia) == n
    np.testing.assert_array_equal(order[ib], ia)
    assert len(set(ia.tolist())) == len(ia) and len(set(ib.tolist())) == len(ib)
    # Nothing matches beyond the radius.
    ia, ib = match_positions(a, b + 5.0, radius=2.0)
    assert len(ia) == 0 or np.all(np.hypot(*(a[ia] - b[ib] - 5.0).T) < 2.0)


def test_threaded_resampling_equals_single_full_image_calls() -> None:
    rng = np.random.default_rng(4)
    data = rng.normal(100.0, 10.0, (61, 47)).astype(np.float32)
    mask = rng.random(data.shape) < 0.05
    yy, xx = np.mgrid[0:53, 0:50].astype(float)
    coords = np.array([yy * 1.1 - 2.3 + 0.01 * xx, xx * 0.97 + 1.7])  # partly outside
    got = _resample(data, mask, coords, 3)
    filled = np.where(mask, 0.0, data).astype(np.float32)
    lost = np.where(mask, data, 0.0).astype(np.float32) ** 2
    expected = (
        ndimage.map_coordinates(filled, coords, order=3, mode="constant", cval=0.0),
        ndimage.map_coordinates(
            mask.astype(np.float32), coords, order=1, mode="constant", cval=1.0
        ),
        ndimage.map_coordinates(lost, coords, order=1, mode="constant", cval=0.0),
    )
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    assert got[2].max() > 0 and (got[1] > 0).mean() < 0.9
