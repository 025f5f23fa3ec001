"""Fake point sources injected into a real science image, with a truth table.

The fakes use the image's own measured PSF, so they look like real point sources to the
pipeline; their matched-filter SNR follows the reference scorer's definition,
``F · sqrt(Σ P²) / σ`` with σ the measured background noise (white, background only).
Positions avoid masked pixels, the image edges, each other and (for ``isolated`` fakes)
any detected source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.table import Table
from scipy import ndimage

from astrid.observations.image import Image
from astrid.observations.simulate import inject_point_sources
from astrid.preprocess.psf import PSFModel

__all__ = ["Injection", "inject_fakes", "quiet_sky"]


@dataclass(frozen=True, eq=False)
class Injection:
    """The science image with fakes added and their truth (scorer format)."""

    image: Image
    truth: Table


def quiet_sky(
    data: np.ndarray, mask: np.ndarray, sigma: float, *, grow: int = 10, threshold: float = 3.0
) -> np.ndarray:
    """Pixels away from anything brighter than `threshold` σ (and from masked pixels)."""
    busy = ndimage.binary_opening(np.abs(data) > threshold * sigma, structure=np.ones((2, 2), bool))
    busy |= mask
    return ~ndimage.binary_dilation(busy, iterations=grow)


def inject_fakes(
    science: Image,
    background_subtracted: np.ndarray,
    sigma: float,
    psf: PSFModel,
    *,
    n: int,
    snr_range: tuple[float, float] = (3.0, 40.0),
    min_separation: float = 25.0,
    edge: int = 40,
    allowed: np.ndarray | None = None,
    seed: int = 0,
) -> Injection:
    """Inject `n` point sources with SNR drawn log-uniformly from `snr_range`.

    Parameters
    ----------
    science : Image
        The image to inject into (sky included, as read from disk).
    background_subtracted : ndarray
        The same image with its background removed (to find empty sky).
    sigma : float
        Background noise (1σ) of the science image.
    psf : PSFModel
        The science image's measured PSF.
    n : int
        Number of fakes wanted (fewer if the image has no room; the truth says how many).
    snr_range : tuple of float
        Matched-filter SNR range.
    min_separation : float
        Minimum distance between fakes (pixels).
    edge : int
        Margin from the image border (pixels).
    allowed : ndarray of bool, optional
        Where fakes may go; default: quiet sky (`quiet_sky`).
    seed : int
        Random seed.
    """
    rng = np.random.default_rng(seed)
    where = (
        allowed if allowed is not None else quiet_sky(background_subtracted, science.mask, sigma)
    )
    where = where.copy()
    where[:edge, :] = where[-edge:, :] = False
    where[:, :edge] = where[:, -edge:] = False
    ys, xs = np.nonzero(where)
    chosen: list[tuple[float, float]] = []
    order = rng.permutation(len(xs))
    for k in order:
        x = xs[k] + rng.uniform(-0.5, 0.5)
        y = ys[k] + rng.uniform(-0.5, 0.5)
        if all((x - cx) ** 2 + (y - cy) ** 2 >= min_separation**2 for cx, cy in chosen):
            chosen.append((x, y))
            if len(chosen) == n:
                break
    xy = np.array(chosen, float).reshape(-1, 2)
    lo, hi = np.log(snr_range[0]), np.log(snr_range[1])
    snr = np.exp(rng.uniform(lo, hi, len(xy)))
    norms = np.array([np.sqrt(np.sum(psf.at(x, y) ** 2)) for x, y in xy])
    flux = snr * sigma / norms
    injected = inject_point_sources(science, xy, flux, psf.at, seed=rng)
    if science.wcs is not None and len(xy):
        ra, dec = science.wcs.pixel_to_world_values(xy[:, 0], xy[:, 1])
    else:
        ra = dec = np.full(len(xy), np.nan)
    truth = Table(
        {
            "kind": np.full(len(xy), "transient", dtype="U32"),
            "ra": np.asarray(ra, float),
            "dec": np.asarray(dec, float),
            "x": xy[:, 0],
            "y": xy[:, 1],
            "flux": flux,
            "snr": snr,
        }
    )
    return Injection(image=injected, truth=truth)
