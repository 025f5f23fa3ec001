"""α for the PSF where the source is, not the PSF at its ZOGY tile's centre.

ZOGY filters each tile with the PSFs at the tile's centre, so α = S/F_S is exact for a source
with that PSF; elsewhere in the tile the science PSF differs (it grows towards the corners
of most cameras) and the matched filter misses part of the flux — by several per cent at the
corners of a 512-pixel tile whose FWHM changes by 20 %. The gain of α for a unit source with
the local science PSF is

    g(x, y) = Σ R_local · P_D / (F_D Σ P_D²),

with R_local the exact response in D of that source (`TileKernels.point_source_response`);
g = 1 where the local PSF is the tile's. It is computed on a grid of cells inside each tile,
interpolated bilinearly within the tile, and α and its error are divided by it, so forced
photometry anywhere on the map measures the source's flux.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from astrid.difference.zogy import TileKernels, ZogyResult

__all__ = ["correct_flux_for_psf_variation", "flux_gain"]

#: At most this many cells along a side of the image (their size is at least `MIN_CELL`).
MAX_CELLS_PER_SIDE = 32
MIN_CELL = 64


def flux_gain(
    result: ZogyResult,
    science_psf: Callable[[float, float], np.ndarray],
    *,
    cell: int | None = None,
) -> np.ndarray:
    """g(x, y) of the module docstring on the science grid (float32, ≈ 1).

    Parameters
    ----------
    result : ZogyResult
        The ZOGY products (their tiles' kernels).
    science_psf : callable
        ``psf(x, y)``: the science PSF stamp at a position.
    cell : int, optional
        Pixels per cell side (default: ≥ 64, at most 32 cells per image side).
    """
    ny, nx = result.flux.shape
    if cell is None:
        cell = max(MIN_CELL, math.ceil(max(ny, nx) / MAX_CELLS_PER_SIDE))
    gain = np.ones((ny, nx), dtype=np.float32)
    for tile in result.tiles:
        xs = _centres(tile.x0, tile.x1, cell)
        ys = _centres(tile.y0, tile.y1, cell)
        grid = np.array([[_gain(tile, science_psf(float(x), float(y))) for x in xs] for y in ys])
        wy = _linear_weights(np.arange(tile.y0, tile.y1), ys)
        wx = _linear_weights(np.arange(tile.x0, tile.x1), xs)
        gain[tile.y0 : tile.y1, tile.x0 : tile.x1] = wy @ grid @ wx.T
    return gain


def correct_flux_for_psf_variation(
    result: ZogyResult, science_psf: Callable[[float, float], np.ndarray]
) -> ZogyResult:
    """``result`` with α and its error divided by `flux_gain` (S, S_corr and D unchanged)."""
    gain = flux_gain(result, science_psf)
    gain[~(np.isfinite(gain) & (gain > 0.2))] = 1.0
    return replace(
        result,
        flux=np.divide(result.flux, gain, dtype=np.float32),
        flux_err=np.divide(result.flux_err, gain, dtype=np.float32),
    )


def _centres(start: int, stop: int, cell: int) -> np.ndarray:
    """Centres of the cells that tile ``[start, stop)`` (at least one)."""
    n = max(1, round((stop - start) / cell))
    return start + (np.arange(n) + 0.5) * (stop - start) / n - 0.5


def _gain(tile: TileKernels, psf: np.ndarray) -> float:
    """α of a unit source with science PSF ``psf`` filtered with the tile's kernels."""
    response = tile.point_source_response(psf)
    psf_d = tile.psf_d
    size = min(response.shape[0], psf_d.shape[0])
    r, p = _centre(response, size), _centre(psf_d, size)
    norm = tile.f_d * float(np.sum(psf_d**2))
    return float(np.sum(r * p) / norm) if norm > 0 else 1.0


def _centre(stamp: np.ndarray, size: int) -> np.ndarray:
    lo = (stamp.shape[0] - size) // 2
    return stamp[lo : lo + size, lo : lo + size]


def _linear_weights(pixels: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """``(len(pixels), len(centres))`` weights of linear interpolation, constant beyond."""
    weights = np.zeros((len(pixels), len(centres)))
    if len(centres) == 1:
        weights[:, 0] = 1.0
        return weights
    position = np.clip(np.interp(pixels, centres, np.arange(len(centres))), 0, len(centres) - 1)
    low = np.minimum(np.floor(position).astype(int), len(centres) - 2)
    frac = position - low
    rows = np.arange(len(pixels))
    weights[rows, low] = 1.0 - frac
    weights[rows, low + 1] = frac
    return weights
