"""Fake point sources injected into any image (real or simulated), with a truth table.

`inject_point_sources` adds PSF-shaped sources with Poisson noise on their flux at given
positions; `inject_fakes` chooses the positions itself (on quiet sky, away from the edges and
each other) and draws the fluxes from a log-uniform matched-filter SNR. The fakes use the
image's own measured PSF, so they look like real point sources to the pipeline; their SNR
follows the reference scorer's definition, ``F · sqrt(Σ P²) / σ`` with σ the measured
background noise (white, background only). Positions are 0-based pixels ``(x, y)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from astropy.table import Table
from scipy import ndimage

from astrid.observations.image import Image
from astrid.simulation.stamps import add_stamps

__all__ = ["Injection", "PositionalPSF", "inject_fakes", "inject_point_sources", "quiet_sky"]


class PositionalPSF(Protocol):
    """A PSF that varies across an image (e.g. `astrid.preprocess.psf.PSFModel`)."""

    def at(self, x: float, y: float) -> np.ndarray:
        """The unit-sum PSF stamp (odd square) at image position ``(x, y)``."""
        ...


def inject_point_sources(
    image: Image,
    positions_xy: np.ndarray,
    fluxes: np.ndarray,
    psf: Callable[[float, float], np.ndarray],
    *,
    seed: int | np.random.Generator | None,
) -> Image:
    """Add PSF-shaped point sources, with Poisson noise on their flux, to a copy of an image.

    Works on any image (real or simulated): the sources are drawn from ``psf`` alone.

    Parameters
    ----------
    image : Image
        The image to inject into; it is not modified. Its ``meta.gain`` (e-/ADU) sets the
        Poisson noise of the added flux.
    positions_xy : numpy.ndarray
        ``(n, 2)`` 0-based pixel positions ``(x, y)``.
    fluxes : numpy.ndarray
        ``(n,)`` total fluxes in the image's units.
    psf : callable
        ``psf(x, y)`` returns the PSF at ``(x, y)`` as an odd-sized square stamp centred on its
        central pixel (for example `SimulatedPair.science_psf`); it is normalised to unit sum
        here and shifted to the sub-pixel position by a Fourier phase shift.
    seed : int, numpy.random.Generator or None
        Seed of the Poisson noise.

    Returns
    -------
    Image
        A copy with the sources added (same mask, WCS, metadata).

    Examples
    --------
    >>> import numpy as np
    >>> from astrid.observations.image import Image
    >>> from astrid.simulation import inject_point_sources
    >>> blank = Image(data=np.zeros((64, 64), np.float32), mask=np.zeros((64, 64), bool),
    ...               wcs=None)
    >>> gauss = lambda x, y: np.exp(-0.5 * (np.arange(-7, 8)[:, None] ** 2
    ...                                    + np.arange(-7, 8)[None, :] ** 2) / 1.5**2)
    >>> out = inject_point_sources(blank, np.array([[30.3, 31.7]]), np.array([1e4]), gauss,
    ...                            seed=0)
    >>> bool(abs(out.data.sum() - 1e4) < 500)
    True
    """
    positions = np.asarray(positions_xy, dtype=float).reshape(-1, 2)
    flux = np.atleast_1d(np.asarray(fluxes, dtype=float))
    if len(flux) != len(positions):
        raise ValueError(f"inject_point_sources: {len(positions)} positions but {len(flux)} fluxes")
    rng = np.random.default_rng(seed)
    gain = float(image.meta.gain) if np.isfinite(image.meta.gain) and image.meta.gain > 0 else 1.0
    data = image.data.astype(np.float64, copy=True)
    for (x, y), f in zip(positions, flux, strict=True):
        stamp = np.asarray(psf(float(x), float(y)), dtype=float)
        if stamp.ndim != 2 or stamp.shape[0] != stamp.shape[1] or stamp.shape[0] % 2 == 0:
            raise ValueError(
                f"inject_point_sources: psf({x:.2f}, {y:.2f}) must return an odd square stamp, "
                f"got shape {stamp.shape}"
            )
        ix, iy = math.floor(x + 0.5), math.floor(y + 0.5)
        shifted = _fourier_shift(stamp / stamp.sum(), x - ix, y - iy)
        model = f * shifted
        positive = np.clip(model, 0.0, None)
        # Poisson fluctuation about the model, so the expected added flux is exactly f.
        noisy = model + rng.poisson(positive * gain) / gain - positive
        add_stamps(data, noisy[None], np.array([ix]), np.array([iy]), np.array([1.0]))
    return image.with_data(data.astype(image.data.dtype, copy=False))


def _fourier_shift(stamp: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Shift a stamp by a sub-pixel amount through its Fourier transform (sum preserved).

    The stamp is zero-padded by a quarter of its size on each side first, so the returned
    array is larger than the input, with the same centre.
    """
    pad = max(2, stamp.shape[0] // 4)
    padded = np.pad(stamp, pad)
    ky = np.fft.fftfreq(padded.shape[0])[:, None]
    kx = np.fft.fftfreq(padded.shape[1])[None, :]
    phase = np.exp(-2j * np.pi * (kx * dx + ky * dy))
    return np.fft.ifft2(np.fft.fft2(padded) * phase).real


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
    psf: PositionalPSF,
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
    psf : PositionalPSF
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
