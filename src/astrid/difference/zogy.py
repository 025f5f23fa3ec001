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
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy import fft as sfft

from astrid.errors import DifferencingError

__all__ = ["ZogyConfig", "ZogyInputs", "ZogyResult", "zogy", "zogy_tile"]

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
        Threads for scipy.fft (-1 = all cores).
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
        pn_tile = sfft.rfft2(_embed(self.science_psf, shape))
        pr_tile = sfft.rfft2(_embed(self.reference_psf, shape))
        pn_true = sfft.rfft2(_embed(science_psf, shape))
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


def _embed(stamp: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Put a centred stamp into an array of `shape` with its centre at pixel (0, 0)."""
    out = np.zeros(shape, dtype=np.float64)
    h = stamp.shape[0] // 2
    out[: stamp.shape[0], : stamp.shape[1]] = stamp
    return np.roll(out, (-h, -h), axis=(0, 1))


def _crop_centre(kernel: np.ndarray, size: int) -> np.ndarray:
    h = size // 2
    return np.roll(kernel, (h, h), axis=(0, 1))[:size, :size]


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
    workers: int = -1,
    model_error: float = 0.0,
) -> tuple[dict[str, np.ndarray], TileKernels]:
    """ZOGY on one tile with constant PSFs; arrays in, arrays out (see module docstring).

    Returns
    -------
    maps : dict
        ``D``, ``S``, ``S_corr``, ``flux``, ``flux_err`` for the tile (float32).
    kernels : TileKernels
        F_D, F_S and the P_D stamp (coordinates left at zero; the caller fills them).
    """
    shape = n.shape
    fr = float(flux_ratio)
    rfft = lambda a: sfft.rfft2(a, workers=workers)  # noqa: E731
    irfft = lambda a: sfft.irfft2(a, s=shape, workers=workers)  # noqa: E731
    pn_hat = rfft(_embed(pn, shape))
    pr_hat = rfft(_embed(pr, shape))
    denom2 = sigma_n**2 * fr**2 * np.abs(pr_hat) ** 2 + sigma_r**2 * np.abs(pn_hat) ** 2
    denom2 = np.maximum(denom2, 1e-30 * max(sigma_n, sigma_r) ** 2)
    sq = np.sqrt(denom2)
    f_d = fr / np.sqrt(sigma_n**2 * fr**2 + sigma_r**2)
    pd_hat = fr * pr_hat * pn_hat / (f_d * sq)
    kn_hat = (fr**2 * np.conj(pn_hat) * np.abs(pr_hat) ** 2 / denom2).astype(np.complex64)
    kr_hat = (fr * np.conj(pr_hat) * np.abs(pn_hat) ** 2 / denom2).astype(np.complex64)

    n_hat = rfft(n.astype(np.float32, copy=False))
    r_hat = rfft(r.astype(np.float32, copy=False))
    d_hat = (fr * pr_hat / sq).astype(np.complex64) * n_hat - (pn_hat / sq).astype(
        np.complex64
    ) * r_hat
    d = irfft(d_hat)
    s_n = irfft(kn_hat * n_hat)
    s_r = irfft(kr_hat * r_hat)
    s = s_n - s_r

    kn2 = irfft(kn_hat) ** 2
    kr2 = irfft(kr_hat) ** 2
    v_sn = irfft(rfft(vn.astype(np.float32, copy=False)) * rfft(kn2.astype(np.float32)))
    v_sr = irfft(rfft(vr.astype(np.float32, copy=False)) * rfft(kr2.astype(np.float32)))
    v_s = np.maximum(v_sn, 0) + np.maximum(v_sr, 0)
    sx, sy = astrometric_sigma
    if sx > 0 or sy > 0:
        for comp in (s_n, s_r):
            gy, gx = np.gradient(comp)
            v_s += sx**2 * gx**2 + sy**2 * gy**2
    if model_error > 0:
        v_s += model_error**2 * (s_n**2 + s_r**2)
    pd = irfft(pd_hat)
    f_s = float(f_d**2 * np.sum(pd.astype(np.float64) ** 2))
    sd = np.sqrt(np.maximum(v_s, 1e-30))
    maps = {
        "D": d.astype(np.float32),
        "S": s.astype(np.float32),
        "S_corr": (s / sd).astype(np.float32),
        "flux": (s / f_s).astype(np.float32),
        "flux_err": (sd / f_s).astype(np.float32),
    }
    size = max(pn.shape[0], pr.shape[0])
    kernels = TileKernels(
        0,
        0,
        0,
        0,
        f_d=float(f_d),
        f_s=f_s,
        psf_d=_crop_centre(pd, size),
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
    n_fill = np.where(mask, 0.0, n_img).astype(np.float32)
    r_fill = np.where(mask, 0.0, r_img).astype(np.float32)
    vn = inputs.science_var + mask * (inputs.science_sigma**2 * config.masked_variance_factor)
    vr = inputs.reference_var + mask * (inputs.reference_sigma**2 * config.masked_variance_factor)
    vn, vr = vn.astype(np.float32), vr.astype(np.float32)

    ny, nx = n_img.shape
    m = config.margin
    out = {k: np.zeros((ny, nx), np.float32) for k in ("D", "S", "S_corr", "flux", "flux_err")}
    tiles: list[TileKernels] = []
    y_edges, x_edges = _tile_edges(ny, config.tile_size), _tile_edges(nx, config.tile_size)
    span_y = max(b - a for a, b in y_edges) + 2 * m
    span_x = max(b - a for a, b in x_edges) + 2 * m
    fft_shape = (sfft.next_fast_len(span_y, real=True), sfft.next_fast_len(span_x, real=True))
    for y0, y1 in y_edges:
        for x0, x1 in x_edges:
            ya, yb = max(0, y0 - m), min(ny, y1 + m)
            xa, xb = max(0, x0 - m), min(nx, x1 + m)
            pads = [np.zeros(fft_shape, np.float32) for _ in range(4)]
            sources: tuple[np.ndarray, ...] = (n_fill, r_fill, vn, vr)
            for pad, src in zip(pads, sources, strict=True):
                pad[: yb - ya, : xb - xa] = src[ya:yb, xa:xb]
            # Outside the image the variance is background-like, not zero.
            pads[2][yb - ya :, :] = inputs.science_sigma**2
            pads[2][:, xb - xa :] = inputs.science_sigma**2
            pads[3][yb - ya :, :] = inputs.reference_sigma**2
            pads[3][:, xb - xa :] = inputs.reference_sigma**2
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
                config.workers,
                config.model_error,
            )
            for key, tile_map in maps.items():
                out[key][y0:y1, x0:x1] = tile_map[y0 - ya : y1 - ya, x0 - xa : x1 - xa]
            tiles.append(replace(kernels, x0=x0, y0=y0, x1=x1, y1=y1))
    return ZogyResult(
        difference=out["D"],
        score=out["S"],
        score_corr=out["S_corr"],
        flux=out["flux"],
        flux_err=out["flux_err"],
        tiles=tiles,
    )
