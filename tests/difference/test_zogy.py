"""Tests of tiled ZOGY: noise normalisation, exact cancellation and flux scale, tiling,
masks, the astrometric-noise term and input validation.

Images are built here from Gaussian PSFs and white noise, so every expectation follows
from the formulas of Zackay, Ofek & Gal-Yam (2016) computed independently in the test.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from astrid.difference.peaks import find_peaks
from astrid.difference.zogy import ZogyConfig, ZogyInputs, ZogyResult, zogy, zogy_tile
from astrid.errors import DifferencingError

PSF_SIZE = 25


def gaussian_psf(
    sigma: float, size: int = PSF_SIZE, dx: float = 0.0, dy: float = 0.0
) -> np.ndarray:
    """Unit-sum Gaussian sampled at pixel centres, centred ``(dx, dy)`` off the stamp centre."""
    half = size // 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(float)
    psf = np.exp(-((xx - dx) ** 2 + (yy - dy) ** 2) / (2 * sigma**2))
    return psf / psf.sum()


def add_stamp(image: np.ndarray, stamp: np.ndarray, x: int, y: int, flux: float) -> None:
    half = stamp.shape[0] // 2
    image[y - half : y + half + 1, x - half : x + half + 1] += flux * stamp


def run_zogy(
    science: np.ndarray,
    reference: np.ndarray,
    *,
    sigma_n: float,
    sigma_r: float,
    flux_ratio: float,
    psf_n: np.ndarray,
    psf_r: np.ndarray,
    mask: np.ndarray | None = None,
    astrometric_sigma: tuple[float, float] = (0.0, 0.0),
    config: ZogyConfig | None = None,
) -> ZogyResult:
    """ZOGY with constant PSFs and white-noise variance maps."""
    shape = science.shape
    inputs = ZogyInputs(
        science=science,
        reference=reference,
        science_var=np.full(shape, sigma_n**2),
        reference_var=np.full(shape, sigma_r**2),
        science_sigma=sigma_n,
        reference_sigma=sigma_r,
        flux_ratio=flux_ratio,
        science_psf=lambda x, y: psf_n,
        reference_psf=lambda x, y: psf_r,
        mask=np.zeros(shape, bool) if mask is None else mask,
        astrometric_sigma=astrometric_sigma,
    )
    return zogy(inputs, ZogyConfig(tile_size=max(shape)) if config is None else config)


def theory_f_s(
    psf_n: np.ndarray, psf_r: np.ndarray, sigma_n: float, sigma_r: float, flux_ratio: float
) -> float:
    """F_S = Σ_k F_r² |P̂_r|² |P̂_n|² / (σ_n² F_r² |P̂_r|² + σ_r² |P̂_n|²) / N_pix (eqs. 14-15)."""
    n = 256
    pn_hat = np.fft.fft2(psf_n, s=(n, n))
    pr_hat = np.fft.fft2(psf_r, s=(n, n))
    num = flux_ratio**2 * np.abs(pr_hat) ** 2 * np.abs(pn_hat) ** 2
    den = sigma_n**2 * flux_ratio**2 * np.abs(pr_hat) ** 2 + sigma_r**2 * np.abs(pn_hat) ** 2
    return float(np.sum(num / den) / n**2)


# Different widths, noise levels and a flux ratio far from 1 in every test below.
SIGMA_N, SIGMA_R, FLUX_RATIO = 2.0, 4.0, 2.5
PSF_N, PSF_R = gaussian_psf(2.0), gaussian_psf(1.3)


def test_pure_noise_gives_unit_normal_scorr_and_d() -> None:
    # 1024² so that the sample mean and std of these smooth (correlated) maps are known
    # to ±0.008 and ±0.5%; a 512² image leaves the mean uncertain by ±0.016.
    rng = np.random.default_rng(11)
    n = 1024
    science = rng.normal(0.0, SIGMA_N, (n, n))
    reference = rng.normal(0.0, SIGMA_R, (n, n))
    result = run_zogy(
        science,
        reference,
        sigma_n=SIGMA_N,
        sigma_r=SIGMA_R,
        flux_ratio=FLUX_RATIO,
        psf_n=PSF_N,
        psf_r=PSF_R,
        config=ZogyConfig(tile_size=256, margin=32),
    )
    core = (slice(16, -16), slice(16, -16))
    s_corr = result.score_corr[core].astype(float)
    d = result.difference[core].astype(float)
    assert abs(s_corr.mean()) < 0.03
    assert s_corr.std() == pytest.approx(1.0, abs=0.02)
    assert abs(d.mean()) < 0.01
    assert d.std() == pytest.approx(1.0, abs=0.02)
    # Gaussian tails: no 5σ peaks in pure noise (expected number ≈ 0.03 here).
    assert len(find_peaks(result.score_corr, threshold=5.0)) == 0


def _impulse_responses(
    sigma_n: float, sigma_r: float, flux_ratio: float, psf_n: np.ndarray, psf_r: np.ndarray
) -> tuple[ZogyResult, ZogyResult]:
    n = 128
    impulse = np.zeros((n, n))
    impulse[n // 2, n // 2] = 1.0
    zero = np.zeros((n, n))
    kw = dict(sigma_n=sigma_n, sigma_r=sigma_r, flux_ratio=flux_ratio, psf_n=psf_n, psf_r=psf_r)
    return run_zogy(impulse, zero, **kw), run_zogy(zero, impulse, **kw)


@settings(max_examples=15, deadline=None)
@given(
    sigma_n=st.floats(0.3, 5.0),
    sigma_r=st.floats(0.1, 5.0),
    flux_ratio=st.floats(0.2, 5.0),
    width_n=st.floats(1.0, 3.0),
    width_r=st.floats(1.0, 3.0),
)
def test_scorr_and_d_are_exactly_unit_variance_in_white_noise(
    sigma_n: float, sigma_r: float, flux_ratio: float, width_n: float, width_r: float
) -> None:
    # S_corr and D are linear in (N, R): with white noise their variance is
    # σ_n² Σ h_N² + σ_r² Σ h_R², h the responses to a unit impulse in each image.
    psf_n, psf_r = gaussian_psf(width_n), gaussian_psf(width_r)
    from_n, from_r = _impulse_responses(sigma_n, sigma_r, flux_ratio, psf_n, psf_r)
    h_n = from_n.score_corr.astype(float)
    h_r = from_r.score_corr.astype(float)
    variance = sigma_n**2 * np.sum(h_n**2) + sigma_r**2 * np.sum(h_r**2)
    assert variance == pytest.approx(1.0, abs=1e-3)
    # D whitens the noise: where both PSFs have no power (|P̂| at rounding level) its
    # kernel keeps the modulus but not the phase, so the response is not compact. Sum
    # it over one whole periodic tile instead of the cropped map.
    n = 128
    impulse = np.zeros((n, n))
    impulse[0, 0] = 1.0
    zero, var_n, var_r = np.zeros((n, n)), np.full((n, n), sigma_n**2), np.full((n, n), sigma_r**2)
    args = (psf_n, psf_r, sigma_n, sigma_r, flux_ratio)
    d_n = zogy_tile(impulse, zero, var_n, var_r, *args)[0]["D"].astype(float)
    d_r = zogy_tile(zero, impulse, var_n, var_r, *args)[0]["D"].astype(float)
    variance = sigma_n**2 * np.sum(d_n**2) + sigma_r**2 * np.sum(d_r**2)
    # The 1e-30 floor of the denominator zeroes the frequencies where neither Gaussian has
    # any power (|P̂|² < 1e-30): up to 3% of the variance for widths near 2.25 px.
    assert 0.95 < variance < 1.001


def test_static_source_and_sky_cancel_exactly() -> None:
    n = 128
    science = np.full((n, n), 5.0)
    reference = np.full((n, n), 5.0 * FLUX_RATIO)
    add_stamp(science, PSF_N, 64, 64, 1000.0)
    add_stamp(reference, PSF_R, 64, 64, FLUX_RATIO * 1000.0)
    kw = dict(sigma_n=SIGMA_N, sigma_r=SIGMA_R, flux_ratio=FLUX_RATIO, psf_n=PSF_N, psf_r=PSF_R)
    result = run_zogy(science, reference, **kw)
    core = (slice(24, -24), slice(24, -24))  # the sky is a box: its edges do not cancel
    assert np.abs(result.difference[core]).max() < 1e-4
    assert np.abs(result.score_corr[core]).max() < 1e-4
    # The same source in the science image only is a strong detection.
    transient = run_zogy(science - 5.0, np.zeros((n, n)), **kw)
    assert transient.score_corr[64, 64] > 50


def test_flux_scale_is_exact_for_a_noise_free_point_source() -> None:
    n, flux = 128, 1000.0
    zero = np.zeros((n, n))
    new = zero.copy()
    add_stamp(new, PSF_N, 64, 64, flux)
    gone = zero.copy()
    add_stamp(gone, PSF_R, 64, 64, FLUX_RATIO * flux)
    kw = dict(sigma_n=SIGMA_N, sigma_r=SIGMA_R, flux_ratio=FLUX_RATIO, psf_n=PSF_N, psf_r=PSF_R)
    appeared = run_zogy(new, zero, **kw)
    vanished = run_zogy(zero, gone, **kw)
    f_s = theory_f_s(PSF_N, PSF_R, SIGMA_N, SIGMA_R, FLUX_RATIO)
    tile = appeared.tiles[0]
    assert tile.f_s == pytest.approx(f_s, rel=1e-6)
    assert tile.f_d == pytest.approx(FLUX_RATIO / np.hypot(SIGMA_N * FLUX_RATIO, SIGMA_R))
    # α = S / F_S is the flux in science units; its error 1/sqrt(F_S) in white noise.
    assert appeared.flux[64, 64] == pytest.approx(flux, rel=1e-4)
    assert vanished.flux[64, 64] == pytest.approx(-flux, rel=1e-4)
    assert appeared.flux_err[64, 64] == pytest.approx(1 / np.sqrt(f_s), rel=1e-4)
    assert appeared.score_corr[64, 64] == pytest.approx(flux * np.sqrt(f_s), rel=1e-4)
    # The peak of S is at the source.
    peak = np.unravel_index(np.argmax(appeared.score), appeared.score.shape)
    assert peak == (64, 64)
    # With the tile's own PSF the point-source response in D is F_D P_D.
    response = tile.point_source_response(PSF_N)
    np.testing.assert_allclose(response, tile.f_d * tile.psf_d, atol=1e-9)
    assert tile.psf_d.sum() == pytest.approx(1.0, rel=1e-3)


def test_snr20_transients_have_the_expected_flux_and_scorr() -> None:
    rng = np.random.default_rng(5)
    n = 512
    science = rng.normal(0.0, SIGMA_N, (n, n))
    reference = rng.normal(0.0, SIGMA_R, (n, n))
    snr = 20.0
    flux = snr * SIGMA_N / np.sqrt(np.sum(PSF_N**2))
    grid = np.arange(48, n - 40, 64)
    positions = [(int(x), int(y)) for y in grid for x in grid]
    for x, y in positions:
        add_stamp(science, PSF_N, x, y, flux)
    result = run_zogy(
        science,
        reference,
        sigma_n=SIGMA_N,
        sigma_r=SIGMA_R,
        flux_ratio=FLUX_RATIO,
        psf_n=PSF_N,
        psf_r=PSF_R,
        config=ZogyConfig(tile_size=128, margin=32),
    )
    f_s = theory_f_s(PSF_N, PSF_R, SIGMA_N, SIGMA_R, FLUX_RATIO)
    # Reference noise lowers the detection SNR below the science-only matched filter.
    reduction = np.sqrt(f_s) * SIGMA_N / np.sqrt(np.sum(PSF_N**2))
    assert 0.8 < reduction < 0.9  # reference noise is 0.8 of the science noise, in flux
    expected = snr * reduction
    ys, xs = np.array(positions)[:, 1], np.array(positions)[:, 0]
    s_corr = result.score_corr[ys, xs].astype(float)
    alpha = result.flux[ys, xs].astype(float)
    # Each peak scatters by ±1 in S_corr (±1/expected in flux); the mean of 49 by ±0.8%.
    assert np.mean(s_corr) / expected == pytest.approx(1.0, abs=0.03)
    assert np.all(np.abs(s_corr - expected) < 4.0)
    assert np.mean(alpha) / flux == pytest.approx(1.0, abs=0.03)
    assert np.all(np.abs(alpha / flux - 1) < 4.0 / expected)
    np.testing.assert_allclose(result.flux_err[ys, xs], 1 / np.sqrt(f_s), rtol=1e-3)
    peaks = find_peaks(result.score_corr, threshold=5.0)
    assert len(peaks) == len(positions)
    assert set(zip(peaks.x.tolist(), peaks.y.tolist(), strict=True)) <= {
        (x + dx, y + dy) for x, y in positions for dx in (-1, 0, 1) for dy in (-1, 0, 1)
    }


def test_tiles_match_one_big_tile_for_constant_psfs() -> None:
    rng = np.random.default_rng(2)
    n = 512
    science = rng.normal(0.0, SIGMA_N, (n, n))
    reference = rng.normal(0.0, SIGMA_R, (n, n))
    for x, y in rng.integers(20, n - 20, size=(30, 2)):
        flux = rng.uniform(200, 5000)
        add_stamp(science, PSF_N, int(x), int(y), flux)
        add_stamp(reference, PSF_R, int(x), int(y), FLUX_RATIO * flux)
    for x, y in rng.integers(20, n - 20, size=(10, 2)):
        add_stamp(science, PSF_N, int(x), int(y), 300.0)
    kw = dict(sigma_n=SIGMA_N, sigma_r=SIGMA_R, flux_ratio=FLUX_RATIO, psf_n=PSF_N, psf_r=PSF_R)
    tiled = run_zogy(science, reference, **kw, config=ZogyConfig(tile_size=128, margin=32))
    single = run_zogy(science, reference, **kw, config=ZogyConfig(tile_size=n, margin=32))
    assert len(tiled.tiles) == 16 and len(single.tiles) == 1
    core = (slice(32, -32), slice(32, -32))
    for name in ("score_corr", "difference", "flux"):
        a, b = getattr(tiled, name), getattr(single, name)
        scale = float(np.abs(b[core]).max())
        assert np.abs(a[core] - b[core]).max() < 1e-5 * scale, name
    # tile_at finds the tile whose core holds a position.
    tile = tiled.tile_at(200.0, 300.0)
    assert tile.x0 <= 200 < tile.x1 and tile.y0 <= 300 < tile.y1


def test_masked_garbage_does_not_make_candidates() -> None:
    rng = np.random.default_rng(3)
    n = 256
    science = rng.normal(0.0, SIGMA_N, (n, n))
    reference = rng.normal(0.0, SIGMA_R, (n, n))
    block = (slice(120, 136), slice(100, 116))
    science[block] = rng.normal(0.0, 1e4, (16, 16)) + 5e3  # a blob of garbage
    mask = np.zeros((n, n), bool)
    mask[block] = True
    kw = dict(sigma_n=SIGMA_N, sigma_r=SIGMA_R, flux_ratio=FLUX_RATIO, psf_n=PSF_N, psf_r=PSF_R)
    unmasked = run_zogy(science, reference, **kw)
    masked = run_zogy(science, reference, **kw, mask=mask)
    near = ndimage.binary_dilation(mask, iterations=10)
    assert np.abs(unmasked.score_corr[near]).max() > 100  # the test has teeth
    assert np.abs(masked.score_corr[near]).max() < 5.0
    peaks = find_peaks(masked.score_corr, threshold=5.0)
    assert not near[peaks.y, peaks.x].any()
    # Masked pixels do not reach the maps at all: garbage or clean sky under the mask
    # gives the same result, and far from the block the same as no mask.
    clean = science.copy()
    clean[block] = rng.normal(0.0, SIGMA_N, (16, 16))
    np.testing.assert_array_equal(
        masked.score_corr, run_zogy(clean, reference, **kw, mask=mask).score_corr
    )
    far = ~ndimage.binary_dilation(mask, iterations=40)
    np.testing.assert_allclose(
        masked.score_corr[far], run_zogy(clean, reference, **kw).score_corr[far], atol=1e-4
    )


def test_astrometric_noise_term_suppresses_a_misregistered_star() -> None:
    rng = np.random.default_rng(4)
    n = 256
    science = rng.normal(0.0, SIGMA_N, (n, n))
    reference = rng.normal(0.0, SIGMA_R, (n, n))
    star_flux = 2e5
    add_stamp(science, PSF_N, 80, 128, star_flux)
    # The reference star sits 0.2 px off: the residual is a dipole.
    add_stamp(reference, gaussian_psf(1.3, dx=0.2, dy=-0.1), 80, 128, FLUX_RATIO * star_flux)
    transient_flux = 20 * SIGMA_N / np.sqrt(np.sum(PSF_N**2))
    add_stamp(science, PSF_N, 180, 128, transient_flux)
    kw = dict(sigma_n=SIGMA_N, sigma_r=SIGMA_R, flux_ratio=FLUX_RATIO, psf_n=PSF_N, psf_r=PSF_R)
    plain = run_zogy(science, reference, **kw)
    # Source noise is left out of the variance maps on purpose: only the astrometric
    # term can explain the residual.
    corrected = run_zogy(science, reference, **kw, astrometric_sigma=(0.2, 0.2))
    star = (slice(118, 139), slice(70, 91))
    assert np.abs(plain.score_corr[star]).max() > 20
    assert np.abs(corrected.score_corr[star]).max() < 0.5 * np.abs(plain.score_corr[star]).max()
    assert np.abs(corrected.score_corr[star]).max() < 5.0
    # At a transient's peak the gradient vanishes: its S_corr is (almost) untouched.
    assert corrected.score_corr[128, 180] == pytest.approx(plain.score_corr[128, 180], rel=0.03)
    # In empty sky the term only adds the small gradient of the noise.
    sky = (slice(20, 90), slice(150, 240))
    ratio = corrected.score_corr[sky].std() / plain.score_corr[sky].std()
    assert 0.95 < ratio <= 1.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("science_sigma", 0.0),
        ("reference_sigma", -1.0),
        ("flux_ratio", 0.0),
        ("flux_ratio", float("nan")),
        ("science_sigma", float("inf")),
    ],
)
def test_non_positive_noise_or_flux_ratio_is_refused(field: str, value: float) -> None:
    n = 64
    kwargs = dict(
        science=np.zeros((n, n)),
        reference=np.zeros((n, n)),
        science_var=np.ones((n, n)),
        reference_var=np.ones((n, n)),
        science_sigma=1.0,
        reference_sigma=1.0,
        flux_ratio=1.0,
        science_psf=lambda x, y: PSF_N,
        reference_psf=lambda x, y: PSF_R,
        mask=np.zeros((n, n), bool),
    )
    kwargs[field] = value
    with pytest.raises(DifferencingError, match=field):
        zogy(ZogyInputs(**kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["reference", "mask"])
def test_mismatched_shapes_are_refused(bad: str) -> None:
    n = 64
    arrays = {
        "science": np.zeros((n, n)),
        "reference": np.zeros((n, n)),
        "mask": np.zeros((n, n), bool),
    }
    arrays[bad] = arrays[bad][:, :-1]
    with pytest.raises(DifferencingError, match="differ"):
        zogy(
            ZogyInputs(
                science=arrays["science"],
                reference=arrays["reference"],
                science_var=np.ones((n, n)),
                reference_var=np.ones((n, n)),
                science_sigma=1.0,
                reference_sigma=1.0,
                flux_ratio=1.0,
                science_psf=lambda x, y: PSF_N,
                reference_psf=lambda x, y: PSF_R,
                mask=arrays["mask"],
            )
        )
