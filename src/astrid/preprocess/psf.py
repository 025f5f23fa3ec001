"""Empirical PSF measured from bright, isolated, unsaturated stars, varying across the image.

The image is divided into a grid of cells; each cell's PSF is the sigma-clipped,
flux-weighted mean of the star stamps in (or, when a cell has too few, nearest to) that
cell, each star re-centred by a sub-pixel Fourier shift before stacking. ``PSFModel.at``
interpolates bilinearly between cell centres. Stamps are odd-sized, unit-sum, centred on
the central pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sep
from astropy.stats import sigma_clip
from scipy import fft as sfft
from scipy.spatial import cKDTree

from astrid.errors import PSFError

__all__ = ["PSFConfig", "PSFModel", "StarList", "find_stars", "fourier_shift", "measure_psf"]


@dataclass(frozen=True)
class PSFConfig:
    """How stars are chosen and stacked.

    Attributes
    ----------
    size : int
        Odd stamp size in pixels.
    cell_size : int
        Approximate size of the grid cells over which the PSF may vary (pixels).
    min_stars : int
        Stars wanted per cell; cells with fewer borrow the nearest stars.
    max_stars : int
        Stars used per cell at most (the brightest).
    min_snr : float
        Minimum signal-to-noise (flux / flux error) of a PSF star.
    max_peak_fraction : float
        Stars whose peak exceeds this fraction of the saturation level are rejected.
    """

    size: int = 31
    cell_size: int = 512
    min_stars: int = 12
    max_stars: int = 60
    min_snr: float = 40.0
    max_peak_fraction: float = 0.5


@dataclass(frozen=True, eq=False)
class StarList:
    """Sources found by `find_stars`; ``psf_candidate`` marks the ones fit to model the PSF."""

    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    peak: np.ndarray
    a: np.ndarray
    b: np.ndarray
    psf_candidate: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def find_stars(
    data: np.ndarray,
    rms: np.ndarray,
    mask: np.ndarray,
    *,
    saturation: float = np.inf,
    threshold: float = 5.0,
    config: PSFConfig = PSFConfig(),
) -> StarList:
    """Detect sources on a background-subtracted image and flag good PSF stars.

    Parameters
    ----------
    data : ndarray
        Background-subtracted image.
    rms : ndarray
        Per-pixel noise map.
    mask : ndarray of bool
        Bad pixels.
    saturation : float
        Saturation level above background.
    threshold : float
        Detection threshold in noise sigmas.
    config : PSFConfig
        Star selection settings.
    """
    work = np.ascontiguousarray(data, dtype=np.float32)
    err = np.ascontiguousarray(rms, dtype=np.float32)
    sep.set_extract_pixstack(max(300000, work.size // 4))
    sep.set_sub_object_limit(4096)
    objects = sep.extract(work, threshold, err=err, mask=mask, minarea=5, deblend_cont=0.005)
    if len(objects) == 0:
        empty = np.zeros(0)
        return StarList(empty, empty, empty, empty, empty, empty, empty, np.zeros(0, bool))
    x, y = objects["x"], objects["y"]
    radius = np.full(len(objects), 3.0)
    flux, flux_err, _ = sep.sum_circle(work, x, y, radius * 2, err=err, mask=mask)
    peak = objects["peak"]
    half = config.size // 2
    ny, nx = work.shape
    inside = (x > half + 2) & (x < nx - half - 3) & (y > half + 2) & (y < ny - half - 3)
    snr = flux / np.maximum(flux_err, 1e-30)
    ok = (
        (objects["flag"] == 0)
        & inside
        & (snr > config.min_snr)
        & (peak < config.max_peak_fraction * saturation)
        & (objects["b"] > 0.4)
    )
    # Isolation: no detected neighbour within one stamp half-width brighter than 1% of it.
    if len(x) > 1:
        tree = cKDTree(np.column_stack([x, y]))
        pairs = tree.query_pairs(half + 2, output_type="ndarray")
        for i, j in pairs:
            if flux[j] > 0.01 * flux[i]:
                ok[i] = False
            if flux[i] > 0.01 * flux[j]:
                ok[j] = False
    # Masked pixels anywhere in the stamp spoil it.
    if ok.any() and mask.any():
        for k in np.flatnonzero(ok):
            xi, yi = int(round(x[k])), int(round(y[k]))
            if mask[yi - half : yi + half + 1, xi - half : xi + half + 1].any():
                ok[k] = False
    # Stellar locus: stars share a size, galaxies are bigger, cosmic rays smaller.
    if ok.sum() >= 5:
        size = np.sqrt(objects["a"] * objects["b"])
        typical = np.median(size[ok])
        ok &= (size > 0.7 * typical) & (size < 1.3 * typical)
    return StarList(
        x=np.asarray(x, float),
        y=np.asarray(y, float),
        flux=np.asarray(flux, float),
        flux_err=np.asarray(flux_err, float),
        peak=np.asarray(peak, float),
        a=np.asarray(objects["a"], float),
        b=np.asarray(objects["b"], float),
        psf_candidate=ok,
    )


def fourier_shift(stamp: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Shift a stamp by ``(dx, dy)`` pixels with the Fourier shift theorem (band-limited)."""
    ny, nx = stamp.shape
    fy = sfft.fftfreq(ny)[:, None]
    fx = sfft.rfftfreq(nx)[None, :]
    phase = np.exp(-2j * np.pi * (fx * dx + fy * dy))
    return sfft.irfft2(sfft.rfft2(stamp) * phase, s=stamp.shape)


def _cutout_centred(data: np.ndarray, x: float, y: float, size: int) -> np.ndarray:
    half = size // 2
    xi, yi = int(round(x)), int(round(y))
    stamp = data[yi - half : yi + half + 1, xi - half : xi + half + 1].astype(float)
    return fourier_shift(stamp, xi - x, yi - y)


def _taper(size: int) -> np.ndarray:
    """A circular window: 1 inside 0.7 of the half-size, cosine to 0 at the stamp edge."""
    half = size // 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    r = np.hypot(xx, yy) / half
    window = np.clip((1.0 - r) / 0.3, 0.0, 1.0)
    return np.where(r < 0.7, 1.0, 0.5 - 0.5 * np.cos(np.pi * window))


def _stack(stamps: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    clipped = sigma_clip(stamps, sigma=3.0, axis=0, maxiters=3, masked=True)
    w = np.where(clipped.mask, 0.0, weights[:, None, None])
    wsum = w.sum(axis=0)
    psf = np.where(wsum > 0, (np.asarray(clipped.data) * w).sum(axis=0) / np.maximum(wsum, 1e-30), 0)
    psf *= _taper(size)
    psf = np.clip(psf, 0.0, None)  # noise in the wings below zero has no physical meaning
    total = psf.sum()
    if not np.isfinite(total) or total <= 0:
        raise PSFError("stacked PSF has no positive flux", n_stars=len(stamps))
    return psf / total


@dataclass(frozen=True, eq=False)
class PSFModel:
    """A grid of PSF stamps over the image, interpolated bilinearly between cell centres.

    Attributes
    ----------
    stamps : ndarray
        ``[ny_cells, nx_cells, size, size]`` unit-sum PSFs.
    centers_x, centers_y : ndarray
        Cell-centre coordinates along each axis (pixels).
    n_stars : ndarray
        ``[ny_cells, nx_cells]`` stars stacked into each cell.
    """

    stamps: np.ndarray
    centers_x: np.ndarray
    centers_y: np.ndarray
    n_stars: np.ndarray

    @property
    def size(self) -> int:
        """Stamp size in pixels."""
        return int(self.stamps.shape[-1])

    def at(self, x: float, y: float) -> np.ndarray:
        """The unit-sum PSF stamp at image position ``(x, y)``."""
        ix, wx = _interp_index(self.centers_x, x)
        iy, wy = _interp_index(self.centers_y, y)
        ix1 = min(ix + 1, len(self.centers_x) - 1)
        iy1 = min(iy + 1, len(self.centers_y) - 1)
        s = self.stamps
        psf = (1 - wy) * ((1 - wx) * s[iy, ix] + wx * s[iy, ix1]) + wy * (
            (1 - wx) * s[iy1, ix] + wx * s[iy1, ix1]
        )
        return psf / psf.sum()

    def fwhm_at(self, x: float, y: float) -> float:
        """FWHM in pixels from the PSF's effective area (exact for a Gaussian)."""
        return psf_fwhm(self.at(x, y))


def psf_fwhm(psf: np.ndarray) -> float:
    """FWHM (pixels) of a unit-sum PSF from its noise-equivalent area, ``1/Σ P²``."""
    area = 1.0 / float(np.sum(psf**2))
    # Gaussian: area = 4π σ², FWHM = 2.3548 σ
    return float(2.3548 * np.sqrt(area / (4 * np.pi)))


def _interp_index(centers: np.ndarray, value: float) -> tuple[int, float]:
    if len(centers) == 1 or value <= centers[0]:
        return 0, 0.0
    if value >= centers[-1]:
        return len(centers) - 1, 0.0
    i = int(np.searchsorted(centers, value) - 1)
    w = (value - centers[i]) / (centers[i + 1] - centers[i])
    return i, float(w)


def measure_psf(
    data: np.ndarray,
    stars: StarList,
    config: PSFConfig = PSFConfig(),
    *,
    label: str = "image",
) -> PSFModel:
    """Measure a spatially varying PSF from the PSF-candidate stars of `find_stars`.

    Parameters
    ----------
    data : ndarray
        Background-subtracted image.
    stars : StarList
        Output of `find_stars`; only ``psf_candidate`` stars are used.
    config : PSFConfig
        Stamp size, cell size and star counts.
    label : str
        Name of the image, for error messages.

    Raises
    ------
    PSFError
        When fewer than 3 usable stars exist in the whole image.
    """
    idx = np.flatnonzero(stars.psf_candidate)
    if len(idx) < 3:
        raise PSFError(
            f"{label}: only {len(idx)} bright isolated unsaturated stars found; need at least 3 "
            "to measure the PSF",
            n_stars=len(idx),
        )
    size = config.size
    x, y = stars.x[idx], stars.y[idx]
    stamps = np.stack([_cutout_centred(data, xi, yi, size) for xi, yi in zip(x, y, strict=True)])
    flux = stamps.sum(axis=(1, 2))
    good = flux > 0
    stamps, x, y, flux = stamps[good] / flux[good, None, None], x[good], y[good], flux[good]
    snr = stars.flux[idx][good] / np.maximum(stars.flux_err[idx][good], 1e-30)
    weights = snr**2
    ny, nx = data.shape
    ncy = max(1, int(round(ny / config.cell_size)))
    ncx = max(1, int(round(nx / config.cell_size)))
    # Fewer stars than cells wanted: shrink the grid rather than stack noise.
    while ncy * ncx > 1 and len(x) < config.min_stars * ncy * ncx / 2:
        ncy, ncx = max(1, ncy - 1), max(1, ncx - 1)
    cy = (np.arange(ncy) + 0.5) * ny / ncy
    cx = (np.arange(ncx) + 0.5) * nx / ncx
    grid = np.zeros((ncy, ncx, size, size))
    counts = np.zeros((ncy, ncx), int)
    want = min(config.min_stars, len(x))
    for j in range(ncy):
        for i in range(ncx):
            inside = (
                (np.abs(x - cx[i]) <= nx / ncx / 2) & (np.abs(y - cy[j]) <= ny / ncy / 2)
            )
            chosen = np.flatnonzero(inside)
            if len(chosen) < want:
                dist = np.hypot(x - cx[i], y - cy[j])
                chosen = np.argsort(dist)[:want]
            chosen = chosen[np.argsort(-weights[chosen])][: config.max_stars]
            grid[j, i] = _stack(stamps[chosen], weights[chosen], size)
            counts[j, i] = len(chosen)
    return PSFModel(stamps=grid, centers_x=cx, centers_y=cy, n_stars=counts)
