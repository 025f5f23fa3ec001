"""Fixed-size cutouts (science, aligned reference, difference) centred on candidates."""

from __future__ import annotations

import numpy as np

__all__ = ["CUTOUT_SIZE", "cutout", "cutout_triplets"]

CUTOUT_SIZE = 63


def cutout(image: np.ndarray, x: float, y: float, size: int = CUTOUT_SIZE) -> np.ndarray:
    """A ``size × size`` float32 cutout centred on the pixel nearest ``(x, y)``; NaN off-image."""
    half = size // 2
    xi, yi = int(round(x)), int(round(y))
    ny, nx = image.shape
    out = np.full((size, size), np.nan, dtype=np.float32)
    ya, yb = max(0, yi - half), min(ny, yi + half + 1)
    xa, xb = max(0, xi - half), min(nx, xi + half + 1)
    if ya < yb and xa < xb:
        out[ya - (yi - half) : yb - (yi - half), xa - (xi - half) : xb - (xi - half)] = image[
            ya:yb, xa:xb
        ]
    return out


def cutout_triplets(
    science: np.ndarray,
    reference: np.ndarray,
    difference: np.ndarray,
    mask: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    size: int = CUTOUT_SIZE,
) -> np.ndarray:
    """``(n, 3, size, size)`` cutouts of science, reference and difference; masked → NaN."""
    masked = [np.where(mask, np.nan, img).astype(np.float32) for img in (science, reference)]
    out = np.empty((len(x), 3, size, size), dtype=np.float32)
    for k, (xk, yk) in enumerate(zip(x, y, strict=True)):
        out[k, 0] = cutout(masked[0], xk, yk, size)
        out[k, 1] = cutout(masked[1], xk, yk, size)
        out[k, 2] = cutout(difference, xk, yk, size)
    return out
