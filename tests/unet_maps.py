"""Synthetic S_corr/D maps for the U-Net tests (inference in tests/detection, training in
tests/training): unit noise plus bright point sources and a masked patch."""

from __future__ import annotations

import numpy as np


def blobs(shape: tuple[int, int], xy: np.ndarray, height: float, sigma: float = 1.5) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    out = np.zeros(shape)
    for x, y in xy:
        out += height * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return out


def synthetic_maps() -> dict[str, np.ndarray]:
    """An S_corr/D-like pair of maps: unit noise plus bright point sources, a masked patch."""
    rng = np.random.default_rng(3)
    shape = (96, 96)
    xy = rng.uniform(10, 86, (8, 2))
    signal = blobs(shape, xy, 12.0)
    mask = np.zeros(shape, bool)
    mask[5:12, 60:70] = True
    return {
        "score_corr": (rng.normal(size=shape) + signal).astype(np.float32),
        "difference": (rng.normal(size=shape) * 3.0 + 3.0 * signal).astype(np.float32),
        "mask": mask,
        "xy": xy,
        "snr": np.full(len(xy), 12.0),
    }
