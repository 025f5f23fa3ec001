"""Candidate positions: local extrema of S_corr beyond a threshold, both signs, merged.

A transient is a positive peak, a fading or vanished source a negative one. A peak of
either sign within ``merge_radius`` of a stronger one is folded into it (a misregistered
star makes a positive/negative dipole; that is one candidate, flagged as a dipole).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["Peaks", "find_peaks"]


@dataclass(frozen=True, eq=False)
class Peaks:
    """Integer peak positions with the S_corr value and merge bookkeeping."""

    x: np.ndarray
    y: np.ndarray
    scorr: np.ndarray
    sign: np.ndarray
    n_merged: np.ndarray
    dipole: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def find_peaks(
    score_corr: np.ndarray,
    *,
    threshold: float = 5.0,
    merge_radius: float = 4.0,
    edge: int = 2,
    valid: np.ndarray | None = None,
) -> Peaks:
    """Find local extrema of |S_corr| ≥ `threshold`.

    Parameters
    ----------
    score_corr : ndarray
        The S_corr map.
    threshold : float
        Minimum |S_corr|.
    merge_radius : float
        Peaks closer than this (pixels) to a stronger peak are merged into it.
    edge : int
        Peaks this close to the image border are dropped.
    valid : ndarray of bool, optional
        Where peaks may be found (e.g. inside the reference footprint).

    Returns
    -------
    Peaks
        Sorted by decreasing |S_corr|.
    """
    s = np.nan_to_num(score_corr, nan=0.0, posinf=0.0, neginf=0.0)
    found_x, found_y, found_v = [], [], []
    for sign in (1.0, -1.0):
        hit = s >= threshold if sign > 0 else s <= -threshold
        if valid is not None:
            hit &= valid
        yy, xx = np.nonzero(hit)
        keep = _local_maxima(s, sign, yy, xx)
        found_x.append(xx[keep])
        found_y.append(yy[keep])
        found_v.append(s[yy[keep], xx[keep]])
    x = np.concatenate(found_x)
    y = np.concatenate(found_y)
    v = np.concatenate(found_v)
    ny, nx = s.shape
    inside = (x >= edge) & (x < nx - edge) & (y >= edge) & (y < ny - edge)
    x, y, v = x[inside], y[inside], v[inside]
    order = np.argsort(-np.abs(v), kind="stable")
    x, y, v = x[order], y[order], v[order]
    n = len(x)
    owner = np.arange(n)
    if n > 1:
        tree = cKDTree(np.column_stack([x, y]))
        for i, j in sorted(tree.query_pairs(merge_radius)):
            # i < j means i is at least as strong; follow i to its own owner.
            root = owner[i]
            if owner[j] == j:
                owner[j] = root
    keep = owner == np.arange(n)
    n_merged = np.bincount(owner, minlength=n)
    dipole = np.zeros(n, bool)
    for j in np.flatnonzero(~keep):
        if np.sign(v[j]) != np.sign(v[owner[j]]):
            dipole[owner[j]] = True
    return Peaks(
        x=x[keep].astype(int),
        y=y[keep].astype(int),
        scorr=v[keep].astype(float),
        sign=np.sign(v[keep]).astype(int),
        n_merged=n_merged[keep],
        dipole=dipole[keep],
    )


def _local_maxima(s: np.ndarray, sign: float, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Which of the pixels ``(yy, xx)`` of ``sign * s`` are ≥ each of their eight
    neighbours (the border repeated beyond the edge), as
    ``maximum_filter(sign * s, size=3, mode="nearest") == sign * s`` says, looked at only
    where a peak may be rather than over the whole map."""
    ny, nx = s.shape
    value = sign * s[yy, xx]
    keep = np.ones(len(yy), bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                ny_, nx_ = np.clip(yy + dy, 0, ny - 1), np.clip(xx + dx, 0, nx - 1)
                keep &= sign * s[ny_, nx_] <= value
    return keep
