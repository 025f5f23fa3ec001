"""Background and noise maps with sep.

The background is estimated on a mesh (sep's SExtractor algorithm), sources detected on
the first pass are masked and the mesh is estimated again, so bright stars and galaxies
do not bias the level or inflate the noise map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sep
from scipy import ndimage

__all__ = ["Background", "BackgroundConfig", "estimate_background"]


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
    sources = ndimage.binary_opening(sources, structure=np.ones((2, 2), bool))
    if config.source_grow > 0:
        sources = ndimage.binary_dilation(sources, iterations=config.source_grow)
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
