"""Detector artifacts a pipeline must reject: cosmic rays, hot pixels, bad columns, trails.

Artifacts bypass the optics (they are not convolved with the PSF) and are added after the
noise. Their brightness is set in units of the image's background noise σ; each is listed
in the truth table (kinds `ARTIFACT_KINDS`) with its total added flux, its matched-filter
SNR ``sqrt(sum(s**2)) / σ`` and, when elongated, its ``length`` and ``angle``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from scipy.spatial import cKDTree

from astrid.observations.image import Image
from astrid.simulation.config import ArtifactConfig
from astrid.simulation.placement import clear_of
from astrid.simulation.stamps import nearest_pixel
from astrid.simulation.truth import TruthRows

__all__ = ["add_artifacts"]

_ARTIFACT_CLEARANCE = 10.0  # px between an artifact and a transient or variable

ToSky = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def add_artifacts(
    image: Image,
    config: ArtifactConfig,
    *,
    sigma: float,
    avoid_xy: np.ndarray | None = None,
    seed: int | np.random.Generator | None = None,
) -> tuple[Image, Table]:
    """Add detector artifacts to a copy of any image (real or simulated) and list them.

    Parameters
    ----------
    image : Image
        The image (sky included); it is not modified.
    config : ArtifactConfig
        How many of each kind.
    sigma : float
        The image's background noise (1σ), which sets the artifacts' brightness.
    avoid_xy : ndarray, optional
        ``(n, 2)`` positions that artifacts keep 10 pixels away from (e.g. injected fakes).
    seed : int or numpy.random.Generator, optional
        Seed of the positions and brightnesses.

    Returns
    -------
    Image
        The copy with the artifacts.
    Table
        Their truth rows (``kind, ra, dec, x, y, flux, snr, ..., length, angle``) in the
        format of `simulate_pair`'s truth.
    """
    rng = np.random.default_rng(seed)
    data = image.data.astype(np.float64, copy=True)
    good = ~image.mask & np.isfinite(data)
    sky = float(np.median(data[good])) if good.any() else 0.0
    rows = TruthRows()

    def to_sky(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if image.wcs is None:
            return np.full(len(x), np.nan), np.full(len(x), np.nan)
        ra, dec = image.wcs.pixel_to_world_values(x, y)
        return np.asarray(ra, float), np.asarray(dec, float)

    avoid = np.empty((0, 2)) if avoid_xy is None else np.asarray(avoid_xy, float).reshape(-1, 2)
    paint_artifacts(data, config, float(sigma), sky, rng, avoid, rows, to_sky)
    return image.with_data(data.astype(image.data.dtype, copy=False)), rows.table()


def paint_artifacts(
    data: np.ndarray,
    config: ArtifactConfig,
    sigma: float,
    sky: float,
    rng: np.random.Generator,
    avoid_xy: np.ndarray,
    rows: TruthRows,
    to_sky: ToSky,
) -> None:
    """Add cosmic rays, hot pixels, bad columns and satellite trails; record their truth."""
    canvas = _Canvas(data, sigma, sky, rng, rows, to_sky)
    avoid = cKDTree(avoid_xy) if len(avoid_xy) else None
    _add_cosmic_rays(canvas, config.n_cosmic_rays, avoid)
    _add_hot_pixels(canvas, config.n_hot_pixels, avoid)
    _add_bad_columns(canvas, config.n_bad_columns, avoid_xy)
    _add_satellite_trails(canvas, config.n_satellite_trails, config.trail_sigma)


@dataclass(frozen=True, eq=False)
class _Canvas:
    """The image being painted, its noise and sky level, and where the truth goes."""

    data: np.ndarray
    sigma: float
    sky: float
    rng: np.random.Generator
    rows: TruthRows
    to_sky: ToSky

    def record(
        self,
        kind: str,
        x: np.ndarray,
        y: np.ndarray,
        total: np.ndarray,
        snr: np.ndarray,
        length: np.ndarray | None = None,
        angle: np.ndarray | None = None,
    ) -> None:
        """Add the truth rows of artifacts of one kind."""
        ra, dec = self.to_sky(x, y)
        nan = np.full(len(x), np.nan)
        self.rows.add(
            kind,
            ra=ra,
            dec=dec,
            x=x,
            y=y,
            flux=total,
            snr=snr,
            ref_x=nan,
            ref_y=nan,
            flux_science=total,
            flux_reference=np.zeros(len(x)),
            mag=nan,
            length=nan if length is None else length,
            angle=nan if angle is None else angle,
        )


def _add_cosmic_rays(canvas: _Canvas, n: int, avoid: cKDTree | None) -> None:
    """Half compact blobs of 1-3 px, half straight tracks of 3-15 px, at 5-100 σ."""
    data, sigma, rng = canvas.data, canvas.sigma, canvas.rng
    ny, nx = data.shape
    cx, cy, ctot, csnr, clen, cang = [], [], [], [], [], []
    seeds_x, seeds_y = _draw_clear_positions(rng, n, (ny, nx), avoid)
    for x0, y0 in zip(seeds_x, seeds_y, strict=True):
        amplitude = math.exp(rng.uniform(math.log(5.0), math.log(100.0))) * sigma
        px, py, extent = _cosmic_ray_pixels(rng, x0, y0)
        inside = (px >= 0) & (px < nx) & (py >= 0) & (py < ny)
        px, py = px[inside].astype(int), py[inside].astype(int)
        values = amplitude * rng.uniform(0.5, 1.0, size=len(px))
        data[py, px] += values
        cx.append(px.mean())
        cy.append(py.mean())
        ctot.append(values.sum())
        csnr.append(math.sqrt(float(np.sum(values**2))) / sigma)
        clen.append(extent[0])
        cang.append(extent[1])
    if n:
        canvas.record(
            "cosmic_ray",
            np.array(cx),
            np.array(cy),
            np.array(ctot),
            np.array(csnr),
            np.array(clen),
            np.array(cang),
        )


def _cosmic_ray_pixels(
    rng: np.random.Generator, x0: float, y0: float
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Pixels ``x, y`` of one cosmic ray seeded at ``(x0, y0)`` and its (length, angle)."""
    if rng.uniform() < 0.5:
        n_pix = int(rng.integers(1, 4))
        offsets = [(0, 0), (1, 0), (0, 1), (-1, 0), (0, -1), (1, 1)]
        pick = [offsets[0], *[offsets[i] for i in rng.permutation(5)[: n_pix - 1] + 1]]
        px = np.array([x0 + o[0] for o in pick])
        py = np.array([y0 + o[1] for o in pick])
        return px, py, (float(np.ptp(px) + np.ptp(py) + 1), 0.0)
    length = rng.uniform(3.0, 15.0)
    phi = rng.uniform(0.0, math.pi)
    t = np.linspace(-length / 2, length / 2, int(4 * length) + 1)
    pts = np.unique(
        np.column_stack(
            [nearest_pixel(x0 + t * math.cos(phi)), nearest_pixel(y0 + t * math.sin(phi))]
        ),
        axis=0,
    )
    return pts[:, 0].astype(float), pts[:, 1].astype(float), (length, phi)


def _add_hot_pixels(canvas: _Canvas, n: int, avoid: cKDTree | None) -> None:
    """Single pixels at 20-500 σ."""
    data, sigma = canvas.data, canvas.sigma
    hx, hy = _draw_clear_positions(canvas.rng, n, data.shape, avoid)
    if n:
        amp = np.exp(canvas.rng.uniform(math.log(20.0), math.log(500.0), size=len(hx))) * sigma
        data[hy.astype(int), hx.astype(int)] += amp
        canvas.record("hot_pixel", hx, hy, amp, amp / sigma)


def _add_bad_columns(canvas: _Canvas, n: int, avoid_xy: np.ndarray) -> None:
    """A 100-500 px segment of one column stuck low (near 0) or high (50-200 σ over the sky)."""
    data, sigma, sky, rng = canvas.data, canvas.sigma, canvas.sky, canvas.rng
    bx, by, btot, bsnr, blen = [], [], [], [], []
    for _ in range(n):
        x, y0, length = _bad_column_segment(rng, data.shape, avoid_xy)
        if rng.uniform() < 0.5:
            value = rng.uniform(0.0, 20.0)
        else:
            value = sky + rng.uniform(50.0, 200.0) * sigma
        change = value - data[y0 : y0 + length, x]
        data[y0 : y0 + length, x] = value
        bx.append(float(x))
        by.append(y0 + (length - 1) / 2.0)
        btot.append(float(change.sum()))
        bsnr.append(math.sqrt(float(np.sum((value - sky) ** 2) * length)) / sigma)
        blen.append(float(length))
    if n:
        canvas.record(
            "bad_column",
            np.array(bx),
            np.array(by),
            np.array(btot),
            np.array(bsnr),
            np.array(blen),
            np.full(len(bx), math.pi / 2),
        )


def _bad_column_segment(
    rng: np.random.Generator, shape: tuple[int, ...], avoid_xy: np.ndarray
) -> tuple[int, int, int]:
    """Column ``x``, first row and length of a segment clear of ``avoid_xy`` (1000 tries)."""
    ny, nx = shape
    for _attempt in range(1000):
        length = min(int(rng.integers(100, 501)), ny)
        y0 = int(rng.integers(0, ny - length + 1))
        x = int(rng.integers(0, nx))
        near = avoid_xy[
            (np.abs(avoid_xy[:, 0] - x) < _ARTIFACT_CLEARANCE)
            & (avoid_xy[:, 1] > y0 - _ARTIFACT_CLEARANCE)
            & (avoid_xy[:, 1] < y0 + length + _ARTIFACT_CLEARANCE)
        ]
        if len(near) == 0:
            break
    return x, y0, length


def _add_satellite_trails(canvas: _Canvas, n: int, trail_sigma: tuple[float, float]) -> None:
    """Faint straight lines about 3 px wide across the whole image."""
    data, sigma, rng = canvas.data, canvas.sigma, canvas.rng
    ny, nx = data.shape
    if not n:
        return
    sx, sy, stot, ssnr, sang = [], [], [], [], []
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    for _ in range(n):
        x0, y0 = rng.uniform(0.2 * nx, 0.8 * nx), rng.uniform(0.2 * ny, 0.8 * ny)
        phi = rng.uniform(0.0, math.pi)
        dist = np.abs(-(xx - x0) * math.sin(phi) + (yy - y0) * math.cos(phi))
        line = np.clip(2.0 - dist, 0.0, 1.0) * rng.uniform(*trail_sigma) * sigma
        data += line
        # the point of the line nearest the image centre
        t = (((nx - 1) / 2 - x0) * math.cos(phi)) + (((ny - 1) / 2 - y0) * math.sin(phi))
        sx.append(x0 + t * math.cos(phi))
        sy.append(y0 + t * math.sin(phi))
        stot.append(float(line.sum()))
        ssnr.append(math.sqrt(float(np.sum(line**2))) / sigma)
        sang.append(phi)
    canvas.record(
        "satellite_trail",
        np.array(sx),
        np.array(sy),
        np.array(stot),
        np.array(ssnr),
        np.full(n, float(np.hypot(nx, ny))),
        np.array(sang),
    )


def _draw_clear_positions(
    rng: np.random.Generator, n: int, shape: tuple[int, int], avoid: cKDTree | None
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform pixel positions at least `_ARTIFACT_CLEARANCE` from ``avoid``."""
    ny, nx = shape
    xs: list[np.ndarray] = [np.empty(0)]
    ys: list[np.ndarray] = [np.empty(0)]
    got = 0
    for _ in range(100):
        if got >= n:
            break
        x = rng.integers(2, nx - 2, size=2 * n + 8).astype(float)
        y = rng.integers(2, ny - 2, size=2 * n + 8).astype(float)
        keep = clear_of(np.column_stack([x, y]), avoid, _ARTIFACT_CLEARANCE)
        xs.append(x[keep])
        ys.append(y[keep])
        got += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]
