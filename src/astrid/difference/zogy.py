"""ZOGY image subtraction (Zackay, Ofek & Gal-Yam 2016, ApJ 830, 27), tiled.

Notation follows the paper with the science ("new") image N and the reference R, both
background-subtracted and on the same pixel grid. Fluxes are in science units: F_n = 1
and F_r is the reference/science flux ratio of the same source. For each tile, with the
tile's PSFs P_n and P_r (unit sum) and background noise σ_n, σ_r:

    D̂   = (F_r P̂_r N̂ − P̂_n R̂) / sqrt(σ_n² F_r² |P̂_r|² + σ_r² |P̂_n|²)     (eq. 13)
    F_D = F_r / sqrt(σ_n² F_r² + σ_r²)                                    (eq. 15)
    P̂_D = F_r P̂_r P̂_n / (F_D sqrt(σ_n² F_r² |P̂_r|² + σ_r² |P̂_n|²))         (eq. 14)
    S   = F_D D ⋆ P_D = k_n ⊗ N − k_r ⊗ R                                  (eq. 12, 25)
    S_corr = S / sqrt(V(S_N) + V(S_R) + V_ast(S_N) + V_ast(S_R))           (eq. 28-31)

with V(S_N) = V_n ⊗ k_n² (V_n the per-pixel variance of N including source noise) and
V_ast(S_N) = σ_x² (∂S_N/∂x)² + σ_y² (∂S_N/∂y)². Beyond the paper, an optional term
ε² (S_N² + S_R²) accounts for a fractional error ε of the PSF models and flux scaling (off
by default: it costs transients on bright galaxies more than it saves). In white
background noise S_corr is exactly unit variance; the transient flux estimate is α = S / F_S with
F_S = F_D² Σ P_D², and its error sqrt(V_S) / F_S.

Tiles overlap by a margin wider than the kernels so each tile's core is free of FFT
wrap-around; each tile uses the PSFs measured at its centre, so a PSF varying across the
image leaves no residuals. FFTs are real, float32, with scipy.fft's worker threads.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
from scipy import fft as sfft

from astrid.errors import DifferencingError

__all__ = ["ZogyConfig", "ZogyInputs", "ZogyResult", "embed_centred", "zogy", "zogy_tile"]

PSFAt = Callable[[float, float], np.ndarray]


@dataclass(frozen=True)
class ZogyConfig:
    """Tiling and numerical settings.

    Attributes
    ----------
    tile_size : int
        Core size of a tile (pixels); the PSF is taken as constant within it.
    margin : int
        Overlap added on each side of a tile's core; must exceed the kernels' reach.
    masked_variance_factor : float
        Masked pixels are set to zero and get this many times the background variance on
        top of their given variance (which should already hold the square of the value
        that was thrown away), so S_corr is suppressed around them instead of letting
        garbage through.
    model_error : float
        Fractional error of the PSF models and flux scaling: adds ``ε² (S_N² + S_R²)`` to
        V(S), the same way the astrometric term does for registration errors, so bright
        static sources, whose residuals scale with their flux, do not reach the threshold.
        A 5σ transient on empty sky loses 0.5 % of its S_corr to it (ε = 0.02).
    workers : int
        Threads over tiles (-1 = all cores); each tile's FFTs run single-threaded.
    """

    tile_size: int = 256
    margin: int = 32
    masked_variance_factor: float = 100.0
    model_error: float = 0.0
    workers: int = -1


@dataclass(frozen=True, eq=False)
class ZogyInputs:
    """Everything ZOGY needs, on the science pixel grid.

    Attributes
    ----------
    science, reference : ndarray
        Background-subtracted images (reference resampled onto the science grid).
    science_var, reference_var : ndarray
        Per-pixel variance including source noise, in each image's units squared.
    science_sigma, reference_sigma : float
        Background noise (1σ) of each image, used in the ZOGY denominators.
    flux_ratio : float
        F_r: reference flux of a source divided by its science flux.
    science_psf, reference_psf : callable
        ``psf(x, y) -> stamp`` (odd size, unit sum).
    mask : ndarray of bool
        Pixels bad in either image.
    astrometric_sigma : tuple of float
        Registration error (x, y) in pixels for the astrometric-noise term.
    """

    science: np.ndarray
    reference: np.ndarray
    science_var: np.ndarray
    reference_var: np.ndarray
    science_sigma: float
    reference_sigma: float
    flux_ratio: float
    science_psf: PSFAt
    reference_psf: PSFAt
    mask: np.ndarray
    astrometric_sigma: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True, eq=False)
class TileKernels:
    """Per-tile products needed downstream (photometry on D).

    ``psf_d`` is P_D of the tile; `point_source_response` gives the exact shape in D of a
    point source whose science PSF differs from the tile's (the PSF varies within a tile).
    """

    x0: int
    y0: int
    x1: int
    y1: int
    f_d: float
    f_s: float
    psf_d: np.ndarray
    science_psf: np.ndarray
    reference_psf: np.ndarray
    sigma_n: float
    sigma_r: float
    flux_ratio: float

    def point_source_response(self, science_psf: np.ndarray) -> np.ndarray:
        """D produced by a unit-flux source with PSF `science_psf` (centred stamp)."""
        size = self.science_psf.shape[0]
        shape = (sfft.next_fast_len(2 * size, real=True),) * 2
        pn_tile = sfft.rfft2(embed_centred(self.science_psf, shape))
        pr_tile = sfft.rfft2(embed_centred(self.reference_psf, shape))
        pn_true = sfft.rfft2(embed_centred(science_psf, shape))
        fr = self.flux_ratio
        denom2 = (
            self.sigma_n**2 * fr**2 * np.abs(pr_tile) ** 2 + self.sigma_r**2 * np.abs(pn_tile) ** 2
        )
        denom2 = np.maximum(denom2, 1e-30 * max(self.sigma_n, self.sigma_r) ** 2)
        response = sfft.irfft2(fr * pr_tile * pn_true / np.sqrt(denom2), s=shape)
        return _crop_centre(response, size)


@dataclass(frozen=True, eq=False)
class ZogyResult:
    """ZOGY products on the science grid (float32 maps).

    Attributes
    ----------
    difference : ndarray
        D, unit-variance in white background noise.
    score : ndarray
        S, the matched-filter score.
    score_corr : ndarray
        S_corr: S divided by its full standard deviation (source and astrometric noise).
    flux : ndarray
        α = S / F_S, the point-source flux estimate at every pixel (science units).
    flux_err : ndarray
        Its 1σ error.
    tiles : list of TileKernels
        F_D, F_S and P_D of each tile.
    """

    difference: np.ndarray
    score: np.ndarray
    score_corr: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    tiles: list[TileKernels]

    def tile_at(self, x: float, y: float) -> TileKernels:
        """The tile whose core contains ``(x, y)``."""
        for t in self.tiles:
            if t.x0 <= x < t.x1 and t.y0 <= y < t.y1:
                return t
        return min(
            self.tiles, key=lambda t: abs((t.x0 + t.x1) / 2 - x) + abs((t.y0 + t.y1) / 2 - y)
        )


def embed_centred(
    stamp: np.ndarray, shape: tuple[int, int], dtype: type = np.float64
) -> np.ndarray:
    """Put a centred stamp into an array of `shape` with its centre at pixel (0, 0)."""
    out: np.ndarray = np.zeros(shape, dtype=dtype)
    h = stamp.shape[0] // 2
    w = stamp.shape[1] // 2
    # Wrap the stamp around the origin directly (no full-array roll).
    ys = (np.arange(stamp.shape[0]) - h) % shape[0]
    xs = (np.arange(stamp.shape[1]) - w) % shape[1]
    out[np.ix_(ys, xs)] = stamp
    return out


def _crop_centre(kernel: np.ndarray, size: int) -> np.ndarray:
    h = size // 2
    ys = (np.arange(size) - h) % kernel.shape[0]
    xs = (np.arange(size) - h) % kernel.shape[1]
    return kernel[np.ix_(ys, xs)]


@dataclass(frozen=True, eq=False)
class _SmallKernels:
    """Real-space kernels computed on a small grid (they are compact, like the PSFs)."""

    kn2: np.ndarray
    kr2: np.ndarray
    psf_d: np.ndarray
    f_d: float
    f_s: float


def _small_kernels(
    pn: np.ndarray, pr: np.ndarray, sigma_n: float, sigma_r: float, fr: float
) -> _SmallKernels:
    size = max(pn.shape[0], pr.shape[0])
    m = sfft.next_fast_len(2 * size, real=True)
    shape = (m, m)
    pn_hat = sfft.rfft2(embed_centred(pn, shape))
    pr_hat = sfft.rfft2(embed_centred(pr, shape))
    denom2 = sigma_n**2 * fr**2 * np.abs(pr_hat) ** 2 + sigma_r**2 * np.abs(pn_hat) ** 2
    denom2 = np.maximum(denom2, 1e-30 * max(sigma_n, sigma_r) ** 2)
    f_d = fr / np.sqrt(sigma_n**2 * fr**2 + sigma_r**2)
    kn = sfft.irfft2(fr**2 * np.conj(pn_hat) * np.abs(pr_hat) ** 2 / denom2, s=shape)
    kr = sfft.irfft2(fr * np.conj(pr_hat) * np.abs(pn_hat) ** 2 / denom2, s=shape)
    pd = sfft.irfft2(fr * pr_hat * pn_hat / (f_d * np.sqrt(denom2)), s=shape)
    return _SmallKernels(
        kn2=_crop_centre(kn, m - 1) ** 2,
        kr2=_crop_centre(kr, m - 1) ** 2,
        psf_d=_crop_centre(pd, size),
        f_d=float(f_d),
        f_s=float(f_d**2 * np.sum(pd**2)),
    )


def zogy_tile(
    n: np.ndarray,
    r: np.ndarray,
    vn: np.ndarray,
    vr: np.ndarray,
    pn: np.ndarray,
    pr: np.ndarray,
    sigma_n: float,
    sigma_r: float,
    flux_ratio: float,
    astrometric_sigma: tuple[float, float] = (0.0, 0.0),
    workers: int = 1,
    model_error: float = 0.0,
) -> tuple[dict[str, np.ndarray], TileKernels]:
    """ZOGY on one tile with constant PSFs; arrays in, arrays out (see module docstring).

    The Fourier-space kernels are built in single precision at the tile's size; the
    squared real-space kernels for the variance terms and P_D come from a small grid
    (they are compact), which saves four tile-sized FFTs.

    Returns
    -------
    maps : dict
        ``D``, ``S``, ``S_corr``, ``flux``, ``flux_err`` for the tile (float32).
    kernels : TileKernels
        F_D, F_S and the P_D stamp (coordinates left at zero; the caller fills them).
    """
    shape = n.shape
    fr = float(flux_ratio)

    def rfft(a: np.ndarray) -> np.ndarray:
        return sfft.rfft2(a, workers=workers)

    def irfft(a: np.ndarray) -> np.ndarray:
        return sfft.irfft2(a, s=shape, workers=workers)

    small = _small_kernels(pn, pr, sigma_n, sigma_r, fr)
    # Kernels in double precision: single-precision PSF transforms are rounding noise at
    # high frequencies, and D's kernel is a ratio of them.
    pn_hat = rfft(embed_centred(pn, shape))
    pr_hat = rfft(embed_centred(pr, shape))
    apn2 = pn_hat.real**2 + pn_hat.imag**2
    apr2 = pr_hat.real**2 + pr_hat.imag**2
    denom2 = sigma_n**2 * fr**2 * apr2 + sigma_r**2 * apn2
    denom2 = np.maximum(denom2, 1e-30 * max(sigma_n, sigma_r) ** 2)
    inv_sq = 1.0 / np.sqrt(denom2)
    dn_hat = (fr * inv_sq * pr_hat).astype(np.complex64)
    dr_hat = (inv_sq * pn_hat).astype(np.complex64)
    kn_hat = (np.conj(pn_hat) * (fr**2 * apr2 / denom2)).astype(np.complex64)
    kr_hat = (np.conj(pr_hat) * (fr * apn2 / denom2)).astype(np.complex64)
    n_hat = rfft(n)
    r_hat = rfft(r)
    d = irfft(dn_hat * n_hat - dr_hat * r_hat)
    sx, sy = astrometric_sigma
    astrometric = sx > 0 or sy > 0
    if astrometric or model_error > 0:
        s_n = irfft(kn_hat * n_hat)
        s_r = irfft(kr_hat * r_hat)
        s = s_n - s_r
    else:
        s = irfft(kn_hat * n_hat - kr_hat * r_hat)
    kn2_hat = rfft(embed_centred(small.kn2, shape, np.float32))
    kr2_hat = rfft(embed_centred(small.kr2, shape, np.float32))
    v_s = np.maximum(irfft(rfft(vn) * kn2_hat + rfft(vr) * kr2_hat), 0)
    if astrometric:
        for comp in (s_n, s_r):
            gy, gx = np.gradient(comp)
            v_s += np.float32(sx**2) * gx**2 + np.float32(sy**2) * gy**2
    if model_error > 0:
        v_s += np.float32(model_error**2) * (s_n**2 + s_r**2)
    f_s = small.f_s
    sd = np.sqrt(np.maximum(v_s, np.float32(1e-30)))
    maps = {
        "D": d.astype(np.float32, copy=False),
        "S": s.astype(np.float32, copy=False),
        "S_corr": (s / sd).astype(np.float32, copy=False),
        "flux": (s / np.float32(f_s)).astype(np.float32, copy=False),
        "flux_err": (sd / np.float32(f_s)).astype(np.float32, copy=False),
    }
    kernels = TileKernels(
        0,
        0,
        0,
        0,
        f_d=small.f_d,
        f_s=f_s,
        psf_d=small.psf_d,
        science_psf=pn,
        reference_psf=pr,
        sigma_n=float(sigma_n),
        sigma_r=float(sigma_r),
        flux_ratio=fr,
    )
    return maps, kernels


def _tile_edges(n: int, tile: int) -> list[tuple[int, int]]:
    count = max(1, int(round(n / tile)))
    edges = np.linspace(0, n, count + 1).round().astype(int)
    return list(itertools.pairwise(edges))


def zogy(inputs: ZogyInputs, config: ZogyConfig = ZogyConfig()) -> ZogyResult:
    """Run ZOGY over overlapping tiles, each with the PSFs at its centre.

    Parameters
    ----------
    inputs : ZogyInputs
        Aligned, background-subtracted images, variances, PSFs and flux ratio.
    config : ZogyConfig
        Tile and margin sizes.

    Returns
    -------
    ZogyResult
        D, S, S_corr, flux and flux-error maps for the whole image, and per-tile kernels.

    Raises
    ------
    DifferencingError
        On non-positive noise levels or flux ratio, or mismatched shapes.
    """
    n_img, r_img = inputs.science, inputs.reference
    if n_img.shape != r_img.shape or n_img.shape != inputs.mask.shape:
        raise DifferencingError(
            f"science {n_img.shape}, reference {r_img.shape} and mask {inputs.mask.shape} differ"
        )
    for name, value in (
        ("science_sigma", inputs.science_sigma),
        ("reference_sigma", inputs.reference_sigma),
        ("flux_ratio", inputs.flux_ratio),
    ):
        if not (np.isfinite(value) and value > 0):
            raise DifferencingError(f"ZOGY needs a positive finite {name}, got {value}")
    mask = inputs.mask
    n_fill = np.where(mask, np.float32(0), n_img).astype(np.float32, copy=False)
    r_fill = np.where(mask, np.float32(0), r_img).astype(np.float32, copy=False)
    extra_n = np.float32(inputs.science_sigma**2 * config.masked_variance_factor)
    extra_r = np.float32(inputs.reference_sigma**2 * config.masked_variance_factor)
    vn = inputs.science_var.astype(np.float32, copy=False)
    vr = inputs.reference_var.astype(np.float32, copy=False)
    vn = np.where(mask, vn + extra_n, vn)
    vr = np.where(mask, vr + extra_r, vr)

    ny, nx = n_img.shape
    m = config.margin
    out = {k: np.empty((ny, nx), np.float32) for k in ("D", "S", "S_corr", "flux", "flux_err")}
    y_edges, x_edges = _tile_edges(ny, config.tile_size), _tile_edges(nx, config.tile_size)
    span_y = max(b - a for a, b in y_edges) + 2 * m
    span_x = max(b - a for a, b in x_edges) + 2 * m
    fft_shape = (sfft.next_fast_len(span_y, real=True), sfft.next_fast_len(span_x, real=True))
    var_fill = (np.float32(inputs.science_sigma**2), np.float32(inputs.reference_sigma**2))

    def run_tile(edges: tuple[int, int, int, int]) -> TileKernels:
        y0, y1, x0, x1 = edges
        ya, yb = max(0, y0 - m), min(ny, y1 + m)
        xa, xb = max(0, x0 - m), min(nx, x1 + m)
        pads = [np.zeros(fft_shape, np.float32) for _ in range(4)]
        # Outside the image the variance is background-like, not zero.
        pads[2][:] = var_fill[0]
        pads[3][:] = var_fill[1]
        sources: tuple[np.ndarray, ...] = (n_fill, r_fill, vn, vr)
        for pad, src in zip(pads, sources, strict=True):
            pad[: yb - ya, : xb - xa] = src[ya:yb, xa:xb]
        cx, cy = (x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2
        maps, kernels = zogy_tile(
            pads[0],
            pads[1],
            pads[2],
            pads[3],
            inputs.science_psf(cx, cy),
            inputs.reference_psf(cx, cy),
            inputs.science_sigma,
            inputs.reference_sigma,
            inputs.flux_ratio,
            inputs.astrometric_sigma,
            1,
            config.model_error,
        )
        for key, tile_map in maps.items():
            out[key][y0:y1, x0:x1] = tile_map[y0 - ya : y1 - ya, x0 - xa : x1 - xa]
        return replace(kernels, x0=x0, y0=y0, x1=x1, y1=y1)

    jobs = [(y0, y1, x0, x1) for y0, y1 in y_edges for x0, x1 in x_edges]
    threads = config.workers if config.workers > 0 else (os.cpu_count() or 1)
    if threads == 1 or len(jobs) == 1:
        tiles = [run_tile(job) for job in jobs]
    else:
        # FFTs and array arithmetic release the GIL: tiles run in parallel threads.
        with ThreadPoolExecutor(max_workers=threads) as pool:
            tiles = list(pool.map(run_tile, jobs))
    return ZogyResult(
        difference=out["D"],
        score=out["S"],
        score_corr=out["S_corr"],
        flux=out["flux"],
        flux_err=out["flux_err"],
        tiles=tiles,
    )
