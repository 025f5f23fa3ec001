"""The simulated detector: photon and read noise, saturation with charge bleeding."""

from __future__ import annotations

import numpy as np


def bleed(data: np.ndarray, saturation: float) -> np.ndarray:
    """Clip pixels above ``saturation`` in place and spill their excess along the column.

    Half the excess of each saturated run goes up, half down, filling pixels to saturation;
    charge reaching the chip edge is lost. Returns the mask of clipped or filled pixels.
    """
    hit = np.zeros(data.shape, dtype=bool)
    over = data > saturation
    for col_index in np.nonzero(over.any(axis=0))[0]:
        col = data[:, col_index]
        edges = np.diff(np.concatenate(([0], over[:, col_index].astype(np.int8), [0])))
        starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
        for start, end in zip(starts, ends, strict=True):
            excess = float(np.clip(col[start:end] - saturation, 0.0, None).sum())
            col[start:end] = np.minimum(col[start:end], saturation)
            hit[start:end, col_index] = True
            for idx in (np.arange(start - 1, -1, -1), np.arange(end, len(col))):
                filled = _spill(col, idx, excess / 2.0, saturation)
                hit[idx[:filled], col_index] = True
    return hit


def _spill(col: np.ndarray, idx: np.ndarray, amount: float, saturation: float) -> int:
    """Fill ``col[idx]`` in order up to saturation with ``amount``; return pixels touched."""
    if len(idx) == 0 or amount <= 0.0:
        return 0
    capacity = np.clip(saturation - col[idx], 0.0, None)
    cum = np.cumsum(capacity)
    full = int(np.searchsorted(cum, amount))
    col[idx[:full]] = np.maximum(col[idx[:full]], saturation)
    if full < len(idx):
        col[idx[full]] += amount - (cum[full - 1] if full > 0 else 0.0)
        return full + 1
    return full


def add_noise(
    model: np.ndarray, gain: float, read_noise: float, rng: np.random.Generator
) -> np.ndarray:
    """Poisson noise on the electrons of ``model`` plus Gaussian read noise, in ADU."""
    electrons = rng.poisson(np.clip(model, 0.0, None) * gain).astype(np.float64)
    electrons += rng.normal(0.0, read_noise, size=model.shape)
    return electrons / gain
