"""Background and noise maps with sep.

The background is estimated on a mesh (sep's SExtractor algorithm), sources detected on
the first pass are masked and the mesh is estimated again, so bright stars and galaxies
do not bias the level or inflate the noise map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sep
from scipy.ndimage import zoom

from astrid.preprocess.morphology import dilate, open_square

__all__ = ["Background", "BackgroundConfig", "estimate_background", "upsample_mesh"]


@dataclass(frozen=True)
class BackgroundConfig:
    """Mesh and source-masking settings.

    Attributes
    ----------
    box_size : int
        Mesh cell size in pixels.
    filter_size : int
        Median filter over mesh cells.
    source_threshold : float
        Detection threshold (in noise sigmas) of the sources masked before the second pass.
    source_grow : int
        Pixels by which detected sources are dilated in the mask.
    """

    box_size: int = 64
    filter_size: int = 3
    source_threshold: float = 3.0
    source_grow: int = 3


@dataclass(frozen=True, eq=False)
class Background:
    """Background level and per-pixel noise (1σ) in the image's units."""

    level: np.ndarray
    rms: np.ndarray
    global_rms: float
    global_level: float


def _sep_background(data: np.ndarray, mask: np.ndarray, config: BackgroundConfig) -> sep.Background:
    box = int(min(config.box_size, max(8, min(data.shape) // 4)))
    return sep.Background(
        data, mask=mask, bw=box, bh=box, fw=config.filter_size, fh=config.filter_size
    )


def estimate_background(
    data: np.ndarray, mask: np.ndarray | None = None, config: BackgroundConfig = BackgroundConfig()
) -> Background:
    """Estimate the background and noise maps of an image.

    Parameters
    ----------
    data : ndarray
        Image ``[y, x]``.
    mask : ndarray of bool, optional
        True where pixels must be ignored.
    config : BackgroundConfig
        Mesh settings.

    Returns
    -------
    Background
        ``level`` and ``rms`` maps (float32) and their robust global values.
    """
    work = np.ascontiguousarray(data, dtype=np.float32)
    bad = np.zeros(work.shape, bool) if mask is None else np.ascontiguousarray(mask, dtype=bool)
    first = _sep_background(work, bad, config)
    residual = work - first.back()
    sources = residual > config.source_threshold * first.rms()
    # Single hot pixels are not sources worth masking; objects are.
    sources = open_square(sources)
    if config.source_grow > 0:
        sources = dilate(sources, iterations=config.source_grow)
    combined = bad | sources
    if combined.mean() > 0.7:  # crowded: keep the first pass rather than starve the mesh
        combined = bad
    second = _sep_background(work, combined, config)
    level = second.back().astype(np.float32)
    rms = second.rms().astype(np.float32)
    good = ~combined
    return Background(
        level=level,
        rms=rms,
        global_rms=float(np.median(rms[good])) if good.any() else float(second.globalrms),
        global_level=float(second.globalback),
    )


def _zoom_matrix(n_mesh: int, box: int, n_out: int) -> np.ndarray:
    """``(n_out, n_mesh)``: column ``i`` is mesh point ``i``'s cubic-spline weight at each
    pixel, as `scipy.ndimage.zoom` spreads it (mesh points at the centres of their boxes)."""
    eye = np.eye(n_mesh)
    columns = [zoom(eye[i], box, order=3, mode="reflect", grid_mode=True) for i in range(n_mesh)]
    return np.stack(columns, axis=1)[:n_out]


def upsample_mesh(mesh: np.ndarray, box: int, shape: tuple[int, ...]) -> np.ndarray:
    """A background mesh (one value per ``box``² box) as a full image of ``shape``.

    The image of photutils' ``Background2D.background`` (bicubic `zoom` of the mesh by
    ``box``, cropped to ``shape``, clipped to the mesh's range), computed as two small
    matrix products: a cubic spline on a grid is separable, so zooming the mesh is
    ``W_y · mesh · W_xᵀ`` with each ``W`` the zoom of the unit vectors. Same values (to
    rounding), a third of the time at 4096². Returned as float32.
    """
    mesh = np.asarray(mesh, dtype=np.float64)
    low, high = float(mesh.min()), float(mesh.max())
    if low == high:
        return np.full(shape, low, dtype=np.float32)
    ny, nx = int(shape[0]), int(shape[1])
    full = _zoom_matrix(mesh.shape[0], box, ny) @ mesh @ _zoom_matrix(mesh.shape[1], box, nx).T
    return np.clip(full, low, high).astype(np.float32)
