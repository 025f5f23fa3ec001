"""Binary dilation and opening of 2-D masks by shifted slices.

`scipy.ndimage`'s binary morphology visits each pixel's structuring element in a generic
loop: ~80 ms per full pass over a 4096² mask, 0.55 s for seven iterations. The two
elements the pipeline uses (the 3×3 cross, iterated, and the 2×2 square) are a handful of
shifted ``|`` and ``&`` over whole rows, ~10× faster. The results are those of
``ndimage.binary_dilation(mask, iterations=n)`` and ``ndimage.binary_opening(mask)`` /
``ndimage.binary_opening(mask, structure=np.ones((2, 2), bool))``, pixel for pixel
(outside the image counts as unset; tests/preprocess/test_morphology.py).
"""

from __future__ import annotations

import numpy as np

__all__ = ["dilate", "open_cross", "open_square"]


def dilate(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """``mask`` grown by the 3×3 cross ``iterations`` times: every pixel within
    ``iterations`` steps (city-block distance) of a set one.

    Raises
    ------
    ValueError
        When ``iterations`` < 1 (scipy reads 0 as "until nothing changes").
    """
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    out = np.array(mask, dtype=bool, copy=True)
    previous = np.empty_like(out)
    for _ in range(iterations):
        np.copyto(previous, out)
        out[1:] |= previous[:-1]
        out[:-1] |= previous[1:]
        out[:, 1:] |= previous[:, :-1]
        out[:, :-1] |= previous[:, 1:]
    return out


def _erode_cross(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    out[1:] &= mask[:-1]
    out[:-1] &= mask[1:]
    out[:, 1:] &= mask[:, :-1]
    out[:, :-1] &= mask[:, 1:]
    out[0] = out[-1] = False
    out[:, 0] = out[:, -1] = False
    return out


def open_cross(mask: np.ndarray) -> np.ndarray:
    """``mask`` eroded then dilated by the 3×3 cross: what is narrower than it goes."""
    return dilate(_erode_cross(np.asarray(mask, dtype=bool)))


def open_square(mask: np.ndarray) -> np.ndarray:
    """``mask`` eroded then dilated by the 2×2 square: single pixels and one-pixel lines go.

    The square's origin is scipy's (its lower-right pixel), so the result is
    ``ndimage.binary_opening(mask, structure=np.ones((2, 2), bool))``.
    """
    m = np.asarray(mask, dtype=bool)
    eroded = np.zeros_like(m)
    eroded[1:, 1:] = m[1:, 1:] & m[:-1, 1:] & m[1:, :-1] & m[:-1, :-1]
    out = eroded.copy()
    out[:-1, :-1] |= eroded[1:, 1:]
    out[:-1, :] |= eroded[1:, :]
    out[:, :-1] |= eroded[:, 1:]
    return out
