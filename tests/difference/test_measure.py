"""Tests of candidate measurement on ZOGY products: sub-pixel position, flux, shape and
masked-pixel counts, on images with known sources at known sub-pixel positions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from astrid.difference.measure import Measurements, measure_candidates
from astrid.difference.peaks import Peaks, find_peaks
from astrid.difference.zogy import ZogyConfig, ZogyInputs, ZogyResult, zogy
from astrid.preprocess.psf import psf_fwhm

SIGMA_N, SIGMA_R, FLUX_RATIO = 2.0, 1.0, 2.5
WIDTH_N, WIDTH_R = 1.8, 1.3
SIZE = 256
SNR = 300.0


def gaussian(
    sigma_x: float, sigma_y: float | None = None, dx: float = 0.0, dy: float = 0.0, size: int = 25
) -> np.ndarray:
    """Unit-sum Gaussian sampled at pixel centres, centred ``(dx, dy)`` off the stamp centre."""
    sigma_y = sigma_x if sigma_y is None else sigma_y
    half = size // 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(float)
    g = np.exp(-((xx - dx) ** 2) / (2 * sigma_x**2) - (yy - dy) ** 2 / (2 * sigma_y**2))
    return g / g.sum()


def add(image: np.ndarray, stamp: np.ndarray, x: int, y: int, flux: float) -> None:
    half = stamp.shape[0] // 2
    image[y - half : y + half + 1, x - half : x + half + 1] += flux * stamp


@dataclass
class Scene:
    result: ZogyResult
    peaks: Peaks
    truth_xy: np.ndarray
    truth_flux: np.ndarray
    elongated_xy: tuple[int, int]


PSF_N = gaussian(WIDTH_N)
PSF_R = gaussian(WIDTH_R)
FLUX = SNR * SIGMA_N / np.sqrt(np.sum(PSF_N**2))


def _zogy(science: np.ndarray, reference: np.ndarray, *, tile_size: int) -> ZogyResult:
    """ZOGY of white-noise images with the constant Gaussian PSFs of this module."""
    shape = science.shape
    return zogy(
        ZogyInputs(
            science=science,
            reference=reference,
            science_var=np.full(shape, SIGMA_N**2),
            reference_var=np.full(shape, SIGMA_R**2),
            science_sigma=SIGMA_N,
            reference_sigma=SIGMA_R,
            flux_ratio=FLUX_RATIO,
            science_psf=lambda x, y: PSF_N,
            reference_psf=lambda x, y: PSF_R,
            mask=np.zeros(shape, bool),
        ),
        ZogyConfig(tile_size=tile_size, margin=32),
    )


@pytest.fixture(scope="module")
def scene() -> Scene:
    rng = np.random.default_rng(21)
    science = rng.normal(0.0, SIGMA_N, (SIZE, SIZE))
    reference = rng.normal(0.0, SIGMA_R, (SIZE, SIZE))
    xy, flux = [], []
    grid = [(x, y) for y in (40, 88, 136, 184) for x in (40, 88, 136, 184, 216)]
    for k, (x, y) in enumerate(grid):
        dx, dy = rng.uniform(-0.5, 0.5, size=2)
        if k % 4 == 3:  # a vanished source: in the reference only
            add(reference, gaussian(WIDTH_R, dx=dx, dy=dy), x, y, FLUX_RATIO * FLUX)
            flux.append(-FLUX)
        else:
            add(science, gaussian(WIDTH_N, dx=dx, dy=dy), x, y, FLUX)
            flux.append(FLUX)
        xy.append((x + dx, y + dy))
    # An elongated transient (not PSF-shaped), far from the others.
    elongated = (128, 225)
    add(science, gaussian(3.5, 1.2, size=31), *elongated, FLUX)
    result = _zogy(science, reference, tile_size=128)
    peaks = find_peaks(result.score_corr, threshold=5.0, merge_radius=4.0)
    return Scene(result, peaks, np.array(xy), np.array(flux), elongated)


def _match(scene: Scene, m: Measurements) -> tuple[np.ndarray, np.ndarray]:
    """Index of the measurement nearest each truth source, and the distance."""
    d = np.hypot(m.x[None, :] - scene.truth_xy[:, 0:1], m.y[None, :] - scene.truth_xy[:, 1:2])
    idx = np.argmin(d, axis=1)
    return idx, d[np.arange(len(idx)), idx]


@pytest.mark.parametrize("use_psf", [True, False], ids=["science_psf", "tile_psf"])
def test_positions_and_fluxes_of_bright_sources(scene: Scene, use_psf: bool) -> None:
    # Every source is found once, plus the elongated one.
    assert len(scene.peaks) == len(scene.truth_xy) + 1
    m = measure_candidates(
        scene.peaks,
        scene.result,
        np.zeros((SIZE, SIZE), bool),
        science_psf=(lambda x, y: PSF_N) if use_psf else None,
    )
    idx, dist = _match(scene, m)
    assert len(set(idx.tolist())) == len(idx)
    # At SNR ~300 the position is known to ~0.01 px and the flux to ~0.4%.
    assert dist.max() < 0.05
    ratio = m.flux[idx] / scene.truth_flux
    assert np.all(np.abs(ratio - 1) < 0.01)
    assert abs(np.median(ratio) - 1) < 0.003
    np.testing.assert_array_equal(np.sign(m.flux[idx]), np.sign(scene.truth_flux))
    # flux_err is ZOGY's 1σ; snr is flux/err and matches |S_corr| at the peak.
    assert np.all(m.flux_err[idx] > 0)
    np.testing.assert_allclose(m.snr[idx], m.flux[idx] / m.flux_err[idx])
    np.testing.assert_allclose(np.abs(m.snr[idx]), np.abs(scene.peaks.scorr[idx]), rtol=0.05)


def test_shape_of_round_and_elongated_sources(scene: Scene) -> None:
    m = measure_candidates(
        scene.peaks, scene.result, np.zeros((SIZE, SIZE), bool), science_psf=lambda x, y: PSF_N
    )
    idx, _ = _match(scene, m)
    # Round point sources: the FWHM of P_D (the shape of a point source in D), round.
    fwhm_d = psf_fwhm(scene.result.tile_at(100, 100).psf_d)
    np.testing.assert_allclose(m.fwhm[idx], fwhm_d, rtol=0.1)
    assert np.all(m.elongation[idx] < 1.1)
    assert np.all(m.elongation[idx] >= 1.0)
    ex, ey = scene.elongated_xy
    k = int(np.argmin(np.hypot(m.x - ex, m.y - ey)))
    assert np.hypot(m.x[k] - ex, m.y[k] - ey) < 1.0
    assert m.elongation[k] > 1.5
    assert m.fwhm[k] > 1.1 * fwhm_d  # geometric-mean width: 2.05 px vs 1.8 px for the PSF


def test_bad_pixels_are_counted_within_the_radius(scene: Scene) -> None:
    mask = np.zeros((SIZE, SIZE), bool)
    px, py = int(scene.peaks.x[0]), int(scene.peaks.y[0])
    for dx, dy in [(0, 0), (3, 0), (0, -4), (2, 2)]:  # inside 5 px
        mask[py + dy, px + dx] = True
    for dx, dy in [(6, 0), (4, 4), (0, 9)]:  # outside 5 px (4,4 is at 5.66)
        mask[py + dy, px + dx] = True
    m = measure_candidates(scene.peaks, scene.result, mask, bad_pixel_radius=5.0)
    assert m.n_bad_pixels[0] == 4
    assert np.all(m.n_bad_pixels[1:] == 0)
    wide = measure_candidates(scene.peaks, scene.result, mask, bad_pixel_radius=10.0)
    assert wide.n_bad_pixels[0] == 7


def test_no_peaks_gives_empty_measurements(scene: Scene) -> None:
    none = find_peaks(scene.result.score_corr, threshold=1e9)
    m = measure_candidates(none, scene.result, np.zeros((SIZE, SIZE), bool))
    assert m.x.shape == m.flux.shape == m.n_bad_pixels.shape == (0,)


def test_position_errors_match_the_scatter_of_positions() -> None:
    """x_err, y_err (from the fit's covariance scaled to ZOGY's flux error) are the real 1σ
    scatter of the fitted positions around the truth: pulls of width 1 at SNR ~25."""
    pulls: dict[str, list[float]] = {"x": [], "y": []}
    errors = []
    n, spacing, snr = 512, 40, 25.0
    flux = snr * SIGMA_N / np.sqrt(np.sum(PSF_N**2))
    for seed in range(3):
        rng = np.random.default_rng(100 + seed)
        science = rng.normal(0.0, SIGMA_N, (n, n))
        reference = rng.normal(0.0, SIGMA_R, (n, n))
        truth = []
        for y in range(spacing, n - spacing + 1, spacing):
            for x in range(spacing, n - spacing + 1, spacing):
                dx, dy = rng.uniform(-0.5, 0.5, size=2)
                add(science, gaussian(WIDTH_N, dx=dx, dy=dy), x, y, flux)
                truth.append((x + dx, y + dy))
        result = _zogy(science, reference, tile_size=256)
        peaks = find_peaks(result.score_corr, threshold=5.0, merge_radius=4.0)
        m = measure_candidates(
            peaks, result, np.zeros((n, n), bool), science_psf=lambda x, y: PSF_N
        )
        xy = np.array(truth)
        d = np.hypot(m.x[None, :] - xy[:, 0:1], m.y[None, :] - xy[:, 1:2])
        idx = np.argmin(d, axis=1)
        assert d[np.arange(len(idx)), idx].max() < 1.0  # every source found
        pulls["x"].extend((m.x[idx] - xy[:, 0]) / m.x_err[idx])
        pulls["y"].extend((m.y[idx] - xy[:, 1]) / m.y_err[idx])
        errors.extend(m.x_err[idx])
    assert len(pulls["x"]) == 3 * 121
    for axis in ("x", "y"):
        p = np.asarray(pulls[axis])
        assert abs(np.mean(p)) < 0.1
        assert 0.9 < np.std(p) < 1.1, (axis, np.std(p))
    # about √2 σ_PSF / SNR for a Gaussian PSF in white noise (the difference's PSF is wider)
    assert 0.5 < np.median(errors) / (np.sqrt(2) * WIDTH_N / snr) < 2.0
