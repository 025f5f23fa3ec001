"""Proper coaddition: unit white noise, the PSF and flux scale of the stack, S/N in quadrature."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import fft as sfft

from astrid.difference.coadd import proper_coadd
from astrid.difference.zogy import embed_centred
from astrid.errors import DifferencingError

SHAPE = (256, 256)


def _gaussian(fwhm: float, size: int = 31) -> np.ndarray:
    y, x = np.mgrid[:size, :size] - size // 2
    sigma = fwhm / 2.3548
    psf = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    return psf / psf.sum()


def _frames(fwhms, sigmas, scales, flux, seed):
    """Frames with one point source of true flux `flux` at the centre, each its own noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for fwhm, sigma, scale in zip(fwhms, sigmas, scales, strict=True):
        source = np.zeros(SHAPE)
        psf = _gaussian(fwhm)
        h = psf.shape[0] // 2
        c = SHAPE[0] // 2
        source[c - h : c + h + 1, c - h : c + h + 1] = scale * flux * psf
        frames.append(source + rng.normal(0, sigma, SHAPE))
    return frames, [_gaussian(f) for f in fwhms]


def _matched_filter(image: np.ndarray, psf: np.ndarray) -> np.ndarray:
    kernel = sfft.rfft2(embed_centred(psf, image.shape))
    return sfft.irfft2(sfft.rfft2(image) * np.conj(kernel), s=image.shape)


def test_noise_is_white_and_unit_whatever_the_inputs() -> None:
    fwhms, sigmas, scales = [2.0, 3.5, 6.0], [5.0, 12.0, 30.0], [1.0, 0.7, 1.6]
    frames, psfs = _frames(fwhms, sigmas, scales, flux=0.0, seed=1)
    coadd = proper_coadd(frames, psfs, sigmas, scales)
    assert coadd.image.std() == pytest.approx(1.0, abs=0.02)
    assert abs(coadd.image.mean()) < 0.02
    # White: neighbouring pixels do not correlate.
    r = coadd.image.astype(float)
    assert abs(np.corrcoef(r[:, 1:].ravel(), r[:, :-1].ravel())[0, 1]) < 0.02
    assert coadd.psf.sum() == pytest.approx(1.0)
    assert coadd.flux_scale == pytest.approx(
        np.sqrt(sum((f / s) ** 2 for f, s in zip(scales, sigmas, strict=True)))
    )
    assert (coadd.coverage == 3).all()


def test_point_source_signal_to_noise_adds_in_quadrature_and_beats_the_weighted_mean() -> None:
    fwhms, sigmas, scales = [2.0, 3.0, 5.0, 7.0], [10.0, 10.0, 10.0, 10.0], [1.0, 1.0, 1.0, 1.0]
    flux = 400.0
    frames, psfs = _frames(fwhms, sigmas, scales, flux, seed=2)
    coadd = proper_coadd(frames, psfs, sigmas, scales)
    # Each input's matched-filter S/N: F f ||P||₂ / σ; the coadd's should be their quadrature sum.
    single = [
        s * flux * np.sqrt(np.sum(p**2)) / g for s, p, g in zip(scales, psfs, sigmas, strict=True)
    ]
    expected = float(np.sqrt(np.sum(np.square(single))))
    filtered = _matched_filter(coadd.image.astype(float), coadd.psf)
    noise = filtered[:64, :64].std()
    measured = filtered[SHAPE[0] // 2, SHAPE[1] // 2] / noise
    assert measured == pytest.approx(expected, rel=0.08)
    # The flux comes back in the inputs' units.
    estimate = filtered[SHAPE[0] // 2, SHAPE[1] // 2] / np.sum(coadd.psf**2) / coadd.flux_scale
    assert estimate == pytest.approx(flux, rel=0.08)
    # An inverse-variance weighted mean of the frames reaches less when the seeing differs.
    mean_psf = np.mean(psfs, axis=0)
    mean_noise = np.sqrt(np.sum(np.square(sigmas))) / len(sigmas)
    weighted = flux * np.sqrt(np.sum(mean_psf**2)) / mean_noise
    assert expected > 1.1 * weighted
    assert expected > max(single)


def test_masked_pixels_add_nothing_and_coverage_counts_frames() -> None:
    frames, psfs = _frames([3.0, 3.0], [5.0, 5.0], [1.0, 1.0], flux=0.0, seed=3)
    frames[0][10:20, 10:20] = 1e6  # a saturated blob, masked
    frames[1][0, 0] = np.nan
    mask0 = np.zeros(SHAPE, bool)
    mask0[10:20, 10:20] = True
    coadd = proper_coadd(frames, psfs, [5.0, 5.0], [1.0, 1.0], masks=[mask0, np.zeros(SHAPE, bool)])
    assert np.isfinite(coadd.image).all()
    assert np.abs(coadd.image).max() < 10
    assert (
        coadd.coverage[15, 15] == 1 and coadd.coverage[0, 0] == 1 and coadd.coverage[100, 100] == 2
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: {**a, "images": []}, "no frames"),
        (lambda a: {**a, "sigmas": [1.0]}, "2 frames but"),
        (lambda a: {**a, "images": [a["images"][0], a["images"][1][:100]]}, "frame 1 has shape"),
        (lambda a: {**a, "sigmas": [1.0, 0.0]}, "σ = 0.0"),
        (lambda a: {**a, "flux_scales": [1.0, -1.0]}, "flux scale -1.0"),
        (lambda a: {**a, "psfs": [a["psfs"][0], np.full((5, 5), np.nan)]}, "finite 2-D stamp"),
    ],
)
def test_bad_inputs_name_the_frame_and_the_problem(change, message) -> None:
    frames, psfs = _frames([3.0, 3.0], [5.0, 5.0], [1.0, 1.0], flux=0.0, seed=4)
    args = {"images": frames, "psfs": psfs, "sigmas": [5.0, 5.0], "flux_scales": [1.0, 1.0]}
    with pytest.raises(DifferencingError, match=message):
        proper_coadd(**change(args))
