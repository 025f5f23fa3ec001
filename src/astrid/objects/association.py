"""The association rule: each candidate joins the nearest object within a radius, else a new one.

Positions are degrees ICRS. Candidates that match no existing object are grouped among
themselves (two detections of one source in the same batch make one new object): taken in
the given order, a candidate joins the nearest new group whose first member lies within the
radius, else it starts a new group. Distances are exact great-circle angles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["DEFAULT_RADIUS_ARCSEC", "Association", "associate", "weighted_position"]

DEFAULT_RADIUS_ARCSEC = 1.5
"""The association radius when none is configured."""

# Candidates compared against all objects at once, per block (bounds memory).
_BLOCK = 2048


@dataclass(frozen=True)
class Association:
    """Where each candidate goes.

    Attributes
    ----------
    existing : ndarray of int
        Per candidate, the index into the existing objects it joins, or -1.
    new_group : ndarray of int
        Per candidate, the new object (0..n_new-1) it starts or joins, or -1; exactly one
        of ``existing`` and ``new_group`` is -1 for every candidate.
    n_new : int
        How many new objects the batch creates.
    """

    existing: NDArray[np.int64]
    new_group: NDArray[np.int64]
    n_new: int


def _unit(ra_deg: NDArray[np.float64], dec_deg: NDArray[np.float64]) -> NDArray[np.float64]:
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def _separation(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Angles (radians) between unit vectors ``a`` (n, 3) and ``b`` (m, 3): (n, m)."""
    # atan2(|a x b|, a . b) is accurate at arcsecond scales, unlike acos(a . b)
    cross = np.linalg.norm(np.cross(a[:, None, :], b[None, :, :]), axis=-1)
    return np.arctan2(cross, a @ b.T)


def _positions(ra: ArrayLike, dec: ArrayLike, what: str) -> NDArray[np.float64]:
    ra_a = np.asarray(ra, dtype=np.float64).ravel()
    dec_a = np.asarray(dec, dtype=np.float64).ravel()
    if ra_a.shape != dec_a.shape:
        raise ValueError(f"{what}: {ra_a.size} ra but {dec_a.size} dec")
    if not (np.all(np.isfinite(ra_a)) and np.all(np.isfinite(dec_a))):
        raise ValueError(f"{what}: positions must be finite")
    if np.any(np.abs(dec_a) > 90):
        raise ValueError(f"{what}: dec must be within [-90, 90]")
    return _unit(ra_a, dec_a)


def associate(
    ra: ArrayLike,
    dec: ArrayLike,
    object_ra: ArrayLike,
    object_dec: ArrayLike,
    radius_arcsec: float = DEFAULT_RADIUS_ARCSEC,
) -> Association:
    """Assign candidates to existing objects or to new ones.

    Parameters
    ----------
    ra, dec : array_like
        Candidate positions, degrees.
    object_ra, object_dec : array_like
        Existing object positions, degrees (may be empty).
    radius_arcsec : float
        The association radius; a candidate exactly at the radius joins.

    Raises
    ------
    ValueError
        If the radius is not positive and finite, or a position is not finite or has
        ``|dec| > 90``.
    """
    if not (np.isfinite(radius_arcsec) and radius_arcsec > 0):
        raise ValueError(f"association radius must be positive, got {radius_arcsec!r}")
    radius = np.radians(radius_arcsec / 3600.0)
    cand = _positions(ra, dec, "candidates")
    objs = _positions(object_ra, object_dec, "objects")
    n = len(cand)
    existing = np.full(n, -1, dtype=np.int64)
    if len(objs):
        for start in range(0, n, _BLOCK):
            sep = _separation(cand[start : start + _BLOCK], objs)
            nearest = np.argmin(sep, axis=1)
            close = sep[np.arange(len(nearest)), nearest] <= radius
            existing[start : start + _BLOCK] = np.where(close, nearest, -1)
    new_group = np.full(n, -1, dtype=np.int64)
    seeds: list[NDArray[np.float64]] = []
    for i in np.flatnonzero(existing < 0):
        if seeds:
            sep = _separation(cand[i : i + 1], np.asarray(seeds))[0]
            j = int(np.argmin(sep))
            if sep[j] <= radius:
                new_group[i] = j
                continue
        new_group[i] = len(seeds)
        seeds.append(cand[i])
    return Association(existing=existing, new_group=new_group, n_new=len(seeds))


def weighted_position(ra: ArrayLike, dec: ArrayLike, flux: ArrayLike) -> tuple[float, float]:
    """The flux-weighted mean position of detections, degrees.

    Weights are ``|flux|``; non-finite fluxes weigh nothing, and when no weight is positive
    every detection weighs the same. The mean is taken over unit vectors, so it is right
    across ra = 0 and near the poles.

    Raises
    ------
    ValueError
        If there are no detections, or positions are invalid.
    """
    vectors = _positions(ra, dec, "detections")
    if not len(vectors):
        raise ValueError("no detections to average")
    weights = np.abs(np.asarray(flux, dtype=np.float64).ravel())
    if weights.shape != (len(vectors),):
        raise ValueError(f"{len(vectors)} positions but {weights.size} fluxes")
    weights = np.where(np.isfinite(weights), weights, 0.0)
    if not np.any(weights > 0):
        weights = np.ones(len(vectors))
    x, y, z = (weights[:, None] * vectors).sum(axis=0)
    mean_ra = float(np.degrees(np.arctan2(y, x)) % 360.0)
    mean_dec = float(np.degrees(np.arctan2(z, np.hypot(x, y))))
    return mean_ra, mean_dec
