"""Tests of the photometric scaling F_r between the aligned reference and the science image."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.spatial import cKDTree

from astrid.errors import AlignmentError
from astrid.preprocess.pair import PreparedPair, prepare_pair
from astrid.preprocess.photometric import measure_flux_ratio, psf_flux
from astrid.preprocess.psf import PSFModel
from astrid.simulation import SimulatedPair, SimulationConfig, simulate_pair


@dataclass(frozen=True)
class KnownPSF:
    """Anything with ``at(x, y)`` serves as a PSF model: here the simulator's own PSF."""

    at: Callable[[float, float], np.ndarray]


def gaussian(sigma: float, size: int = 31) -> np.ndarray:
    half = size // 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(float)
    g = np.exp(-(xx**2 + yy**2) / (2 * sigma**2))
    return g / g.sum()


def constant_model(psf: np.ndarray, shape: tuple[int, int]) -> PSFModel:
    return PSFModel(coeffs=psf[None], degree=0, shape=shape, n_stars=0)


def test_flux_ratio_of_synthetic_stars_with_exact_psfs() -> None:
    rng = np.random.default_rng(0)
    n, ratio, sigma_n, sigma_r = 400, 3.7, 5.0, 8.0
    psf_n, psf_r = gaussian(2.0), gaussian(1.4)
    science = rng.normal(12.0, sigma_n, (n, n))  # backgrounds left on purpose: fitted out
    reference = rng.normal(-30.0, sigma_r, (n, n))
    xy = np.array([(x, y) for x in range(40, 361, 40) for y in range(40, 361, 40)], float)
    flux = rng.uniform(2e3, 2e4, len(xy))
    variable = np.zeros(len(xy), bool)
    variable[[3, 17, 40]] = True  # these changed by 50%: clipped out
    for (x, y), f, var in zip(xy.astype(int), flux, variable, strict=True):
        science[y - 15 : y + 16, x - 15 : x + 16] += f * psf_n
        scale = ratio * (1.5 if var else 1.0)
        reference[y - 15 : y + 16, x - 15 : x + 16] += scale * f * psf_r
    result = measure_flux_ratio(
        science,
        reference,
        np.zeros((n, n), bool),
        xy[:, 0],
        xy[:, 1],
        science_psf=constant_model(psf_n, (n, n)),
        reference_psf=constant_model(psf_r, (n, n)),
        science_sigma=sigma_n,
        reference_sigma=sigma_r,
    )
    assert result.ratio == pytest.approx(ratio, rel=0.003)
    # The variables are clipped (with a few faint stars: the clip is on unweighted ratios).
    assert len(xy) - variable.sum() - 8 <= result.n_stars <= len(xy) - variable.sum()
    assert 0 < result.error < 0.003 * ratio


def test_psf_flux_is_nan_at_edges_and_masked_pixels() -> None:
    n = 64
    psf = constant_model(gaussian(1.5), (n, n))
    data = np.zeros((n, n))
    data[27:58, 17:48] += 1000.0 * gaussian(1.5)
    mask = np.zeros((n, n), bool)
    flux, err = psf_flux(data, mask, psf, 32.0, 42.0, 1.0)
    assert flux == pytest.approx(1000.0, rel=1e-6)
    assert err > 0
    assert np.isnan(psf_flux(data, mask, psf, 2.0, 42.0, 1.0)[0])
    mask[42, 33] = True
    assert np.isnan(psf_flux(data, mask, psf, 32.0, 42.0, 1.0)[0])


def test_too_few_usable_stars_raise() -> None:
    n = 64
    psf = constant_model(gaussian(1.5), (n, n))
    noise = np.random.default_rng(1).normal(0.0, 1.0, (n, n))
    with pytest.raises(AlignmentError, match="only 0 stars") as info:
        measure_flux_ratio(
            noise,
            noise,
            np.zeros((n, n), bool),
            np.array([20.0, 40.0]),
            np.array([32.0, 32.0]),
            science_psf=psf,
            reference_psf=psf,
            science_sigma=1.0,
            reference_sigma=1.0,
            label="sci vs ref",
        )
    assert info.value.n_stars == 0
    assert "sci vs ref" in str(info.value)


SMALL = SimulationConfig(
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


@pytest.fixture(scope="module")
def small() -> tuple[SimulatedPair, PreparedPair]:
    sim = simulate_pair(SMALL, seed=1)
    return sim, prepare_pair(sim.science, sim.reference)


def test_flux_ratio_on_a_simulated_pair_with_the_true_psfs(
    small: tuple[SimulatedPair, PreparedPair],
) -> None:
    # The aligned, background-subtracted images of prepare_pair and the simulator's PSFs:
    # what is left to get right is the fit, the resampling and the backgrounds.
    sim, pair = small
    sci_wcs, ref_wcs = sim.science.wcs, sim.reference.wcs

    def reference_at(x: float, y: float) -> np.ndarray:
        rx, ry = ref_wcs.world_to_pixel_values(*sci_wcs.pixel_to_world_values(x, y))
        return sim.reference_psf(float(rx), float(ry))

    t = sim.truth
    x, y = np.asarray(t["x"]), np.asarray(t["y"])
    neighbour = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=2)[0][:, 1]
    stars = np.isin(np.asarray(t["kind"]), ["star", "variable"])
    sel = stars & (np.asarray(t["snr"]) > 20) & (neighbour > 12)
    result = measure_flux_ratio(
        pair.science,
        pair.reference,
        pair.mask,
        x[sel],
        y[sel],
        science_psf=KnownPSF(lambda a, b: sim.science_psf(a, b)),  # type: ignore[arg-type]
        reference_psf=KnownPSF(reference_at),  # type: ignore[arg-type]
        science_sigma=pair.science_sigma,
        reference_sigma=pair.stats["reference_sigma_resampled"],
    )
    assert result.n_stars >= 25
    assert result.ratio / sim.reference_flux_scale == pytest.approx(1.0, abs=0.01)


def test_pipeline_flux_ratio_at_default_star_density() -> None:
    # With the measured PSFs, F_r is as good as the PSF models: ~150 stars of a
    # default-density 1024² field give it to 0.5%. (On 512² fields, with ~40 PSF stars,
    # the PSF models and F_r are off by up to 5%.)
    config = SimulationConfig(
        n_transients=40,
        n_transients_on_galaxies=10,
        n_variables=10,
        n_cosmic_rays=20,
        n_hot_pixels=20,
        n_bad_columns=1,
    )
    sim = simulate_pair(config, seed=0)
    pair = prepare_pair(sim.science, sim.reference)
    assert pair.flux_ratio.n_stars > 100
    assert pair.flux_ratio.ratio / sim.reference_flux_scale == pytest.approx(1.0, abs=0.01)
    assert 0 < pair.flux_ratio.error < 0.005 * pair.flux_ratio.ratio
