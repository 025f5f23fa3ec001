"""Combining aligned frames from disk: outlier rejection and the stack's pixels.

The two steps of `astrid.difference.stack` that need every frame: the per-pixel outlier
rejection (band by band over a `FrameSpill`, each band read with a margin of the widest
blur and growth so the result does not depend on the band) and the combination (proper
coadd, weighted mean or median; one frame at a time, the median by bands). Pure NumPy.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from astrid.difference.coadd import ProperCoaddSum
from astrid.difference.frame_spill import FrameSpill, SpilledFrame
from astrid.errors import ConfigurationError
from astrid.preprocess.morphology import dilate

__all__ = ["BAND_BYTES", "combine_frames", "reject_outliers"]

#: Bytes of one band of rows of every frame, the working set of the rejection and median.
BAND_BYTES = 96 * 2**20

_GAUSSIAN_FWHM = 2.0 * np.sqrt(2.0 * np.log(2.0))
_MAD_TO_SIGMA = 1.4826


def _blur(data: np.ndarray, good: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur of the good pixels only (normalised convolution); NaN where none."""
    if sigma_px <= 0.05:
        return np.where(good, data, np.nan).astype(np.float32)
    weight = ndimage.gaussian_filter(good.astype(np.float32), sigma_px, mode="constant")
    blurred = ndimage.gaussian_filter(
        np.where(good, data, 0.0).astype(np.float32), sigma_px, mode="constant"
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out = blurred / weight
    return np.where(good & (weight > 0.5), out, np.nan).astype(np.float32)


def _bands(ny: int, rows: int) -> list[tuple[int, int]]:
    return [(r0, min(ny, r0 + rows)) for r0 in range(0, ny, rows)]


def _band_rows(n: int, nx: int, band_rows: int | None) -> int:
    return band_rows or max(16, BAND_BYTES // (4 * n * nx))


def reject_outliers(
    spill: FrameSpill,
    inputs: Sequence[SpilledFrame],
    reject_sigma: float,
    reject_mismatch: float,
    band_rows: int | None = None,
) -> list[int]:
    """Per frame, mark the pixels that depart from the other frames (module notes) in its
    ``rejected`` plane; return how many each has. Band by band: each band is read with a
    margin of the widest blur and growth, so the result does not depend on the band."""
    n = len(inputs)
    ny, nx = spill.shape
    if n < 3 or reject_sigma <= 0:
        return [0] * n
    worst = max(i.fwhm for i in inputs)
    kernels = [np.sqrt(max(worst**2 - i.fwhm**2, 0.0)) / _GAUSSIAN_FWHM for i in inputs]
    # A Gaussian blur of width s shrinks white noise by sqrt(4π s²) (s ≥ ~1 px).
    noise = [
        i.sigma / i.flux_scale / max(1.0, np.sqrt(4.0 * np.pi) * k)
        for i, k in zip(inputs, kernels, strict=True)
    ]
    grows = [max(1, int(round(i.fwhm))) for i in inputs]
    # gaussian_filter reaches int(4 s + 0.5) pixels; the growth reaches `grow` more
    margin = max(int(4.0 * k + 0.5) for k in kernels) + max(grows) + 1
    counts = [0] * n
    for r0, r1 in _bands(ny, _band_rows(n, nx, band_rows)):
        a, b = max(0, r0 - margin), min(ny, r1 + margin)
        blurred = np.empty((n, b - a, nx), np.float32)
        masks = []
        for j, (inp, kernel) in enumerate(zip(inputs, kernels, strict=True)):
            mask = spill.rows(j, "mask", a, b)
            blurred[j] = _blur(spill.rows(j, "data", a, b) / inp.flux_scale, ~mask, kernel)
            masks.append(mask)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: nothing covers
            median = np.nanmedian(blurred, axis=0)
            scatter = _MAD_TO_SIGMA * np.nanmedian(np.abs(blurred - median), axis=0)
        for j in range(n):
            with np.errstate(all="ignore"):
                allowed = reject_sigma * np.maximum(noise[j], scatter)
                allowed += reject_mismatch * np.abs(median)
                out = np.abs(blurred[j] - median) > allowed
            out &= np.isfinite(median) & np.isfinite(blurred[j])
            grown = dilate(out, iterations=grows[j]) & ~masks[j]
            kept = grown[r0 - a : r1 - a]
            counts[j] += int(kept.sum())
            spill.put_rows(j, "rejected", r0, kept)
    return counts


def combine_frames(
    method: str, spill: FrameSpill, inputs: Sequence[SpilledFrame], band_rows: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(image, variance, psf, coverage)`` of the masked frames, in the first frame's units.

    Weights ``w_j = F_j² / σ_j²``; ``c`` is the weight fraction of the frames covering a
    pixel. ``proper``: the proper coadd divided by ``c F_R`` (variance ``1 / (c F_R²)``);
    ``mean``: the inverse-variance weighted mean of ``M_j / F_j`` (variance ``1 / Σ w``
    over the covering frames, PSF the weighted mean PSF); ``median``: the median of
    ``M_j / F_j`` (variance ``π/2 · n / (Σ F_j/σ_j)²`` over the ``n`` covering frames, PSF
    the mean PSF). Frames are read from ``spill`` one at a time (the median: by bands).
    """
    shape = spill.shape
    weights = np.array([(i.flux_scale / i.sigma) ** 2 for i in inputs])
    covered = np.zeros(shape, np.float64)
    coverage = np.zeros(shape, np.int32)
    accumulated = np.zeros(shape, np.float64)  # mean: Σ w M/F; median: Σ F/σ
    proper = ProperCoaddSum(shape) if method == "proper" else None
    for j, (inp, w) in enumerate(zip(inputs, weights, strict=True)):
        mask = spill.unusable(j)
        covered += np.where(mask, 0.0, w)
        coverage += ~mask
        if proper is not None:
            proper.add(spill.rows(j, "data"), inp.psf, inp.sigma, inp.flux_scale, mask)
        elif method == "mean":
            accumulated += np.where(mask, 0.0, w * spill.rows(j, "data") / inp.flux_scale)
        else:
            accumulated += np.where(mask, 0.0, inp.flux_scale / inp.sigma)
    uncovered = coverage == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        if proper is not None:
            coadd = proper.result()
            fraction = covered / weights.sum()
            image = coadd.image / (coadd.flux_scale * fraction)
            variance = 1.0 / (fraction * coadd.flux_scale**2)
            psf = coadd.psf
        elif method == "mean":
            image, variance = accumulated / covered, 1.0 / covered
            psf = np.sum([w * i.psf / i.psf.sum() for w, i in zip(weights, inputs, strict=True)], 0)
        elif method == "median":
            image = np.empty(shape, np.float32)
            for r0, r1 in _bands(shape[0], _band_rows(len(inputs), shape[1], band_rows)):
                cube = np.stack(
                    [
                        np.where(spill.unusable(j, r0, r1), np.nan, spill.rows(j, "data", r0, r1))
                        / i.flux_scale
                        for j, i in enumerate(inputs)
                    ]
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: nothing covers
                    image[r0:r1] = np.nanmedian(cube, axis=0)
            # the median of n normal values of σ s_j: π/2 · n / (Σ 1/s_j)²
            variance = (np.pi / 2.0) * coverage / accumulated**2
            psf = np.mean([i.psf / i.psf.sum() for i in inputs], axis=0)
        else:  # refused by StackConfig already
            raise ConfigurationError(f"stack method {method!r}", method=method)
    image = np.where(uncovered, np.nan, image).astype(np.float32)
    variance = np.where(uncovered, np.nan, variance).astype(np.float32)
    return image, variance, psf / psf.sum(), coverage
