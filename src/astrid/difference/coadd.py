"""Proper coaddition (Zackay & Ofek 2017): the optimal stack of N frames of one field.

For aligned frames ``M_j`` with PSFs ``P_j``, flux scales ``F_j`` (the zero-point
transparency: counts per unit of true flux) and white background noise ``σ_j``, the
proper coadd is, in Fourier space,

    R̂ = Σ_j (F_j / σ_j²) P̂_j* M̂_j / sqrt(Σ_j (F_j² / σ_j²) |P̂_j|²),

a sufficient statistic for finding point sources in the stack: its noise is white with
unit variance, its PSF is

    P̂_R = sqrt(Σ_j (F_j² / σ_j²) |P̂_j|²) / F_R,   F_R = sqrt(Σ_j F_j² / σ_j²),

and the matched-filter signal-to-noise of a point source in ``R`` is the quadrature sum of
its signal-to-noise in the inputs — more than any weighted mean of the frames reaches when
their seeing differs. ``R`` is itself a ZOGY input (image, PSF, flux scale, σ = 1).

This module is the arithmetic only: frames must already be calibrated, masked, background-
subtracted and resampled onto one grid (the preprocess stages do that); masked pixels
contribute nothing, and the count of frames that cover each pixel is returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft

from astrid.difference.zogy import embed_centred
from astrid.errors import DifferencingError

__all__ = ["ProperCoadd", "ProperCoaddSum", "proper_coadd"]


@dataclass(frozen=True, eq=False)
class ProperCoadd:
    """A proper coadd: the image, its PSF and flux scale, and its coverage.

    Attributes
    ----------
    image : ndarray
        ``R``: white noise of unit standard deviation where every frame covers the sky.
    psf : ndarray
        ``P_R`` as a centred stamp of the inputs' PSF size, summing to 1.
    flux_scale : float
        ``F_R``: counts in ``R`` per unit of true flux (``image / flux_scale`` is in the
        inputs' flux units).
    coverage : ndarray of int
        How many frames have an unmasked pixel at each position.
    """

    image: np.ndarray
    psf: np.ndarray
    flux_scale: float
    coverage: np.ndarray

    @property
    def sigma(self) -> float:
        """Background noise of ``image`` (1 by construction)."""
        return 1.0


def _check_frame(
    j: int,
    shape: tuple[int, ...],
    image_shape: tuple[int, ...],
    psf: np.ndarray,
    sigma: float,
    flux_scale: float,
    mask_shape: tuple[int, ...] | None,
) -> None:
    """`DifferencingError` naming frame ``j`` when it cannot be added to a stack of ``shape``."""
    if image_shape != shape:
        raise DifferencingError(
            f"proper coadd: frame {j} has shape {image_shape}, frame 0 {shape}: "
            "resample the frames onto one grid first",
            frame=j,
        )
    if mask_shape is not None and mask_shape != shape:
        raise DifferencingError(f"proper coadd: mask {j} does not match its frame", frame=j)
    if not (np.isfinite(sigma) and sigma > 0):
        raise DifferencingError(f"proper coadd: frame {j}: σ = {sigma} (need > 0)")
    if not (np.isfinite(flux_scale) and flux_scale > 0):
        raise DifferencingError(f"proper coadd: frame {j}: flux scale {flux_scale} (need > 0)")
    if psf.ndim != 2 or not np.isfinite(psf).all() or psf.sum() <= 0:
        raise DifferencingError(
            f"proper coadd: frame {j}: the PSF must be a finite 2-D stamp of positive sum"
        )
    if psf.shape[0] > shape[0] or psf.shape[1] > shape[1]:
        raise DifferencingError(f"proper coadd: frame {j}: PSF stamp larger than the frame")


class ProperCoaddSum:
    """The proper coadd built one frame at a time: memory for the sums only, whatever N.

    ``add`` each aligned frame, then ``result()``; `proper_coadd` does both for frames in
    memory. The sums are the numerator ``Σ (F_j/σ_j²) P̂_j* M̂_j`` and the power
    ``Σ (F_j²/σ_j²) |P̂_j|²`` (module notes), so frames can be read from disk one by one.
    """

    def __init__(self, shape: tuple[int, int]) -> None:
        if len(shape) != 2:
            raise DifferencingError(f"proper coadd: frame 0 is not a 2-D image (shape {shape})")
        self.shape = (int(shape[0]), int(shape[1]))
        self._numerator = np.zeros((self.shape[0], self.shape[1] // 2 + 1), np.complex128)
        self._power = np.zeros(self._numerator.shape, np.float64)
        self._coverage = np.zeros(self.shape, np.int32)
        self._flux_power = 0.0
        self._stamp: tuple[int, int] | None = None
        self.n = 0

    def add(
        self,
        image: np.ndarray,
        psf: np.ndarray,
        sigma: float,
        flux_scale: float,
        mask: np.ndarray | None = None,
    ) -> None:
        """Add one frame (background subtracted, on the grid; ``mask`` True = unusable).

        Raises
        ------
        DifferencingError
            The frame, its mask or PSF does not fit, or σ or the flux scale is not > 0.
        """
        psf = np.asarray(psf, np.float64)
        _check_frame(
            self.n,
            self.shape,
            np.shape(image),
            psf,
            sigma,
            flux_scale,
            None if mask is None else np.shape(mask),
        )
        data = np.asarray(image, np.float64)
        bad = ~np.isfinite(data)
        if mask is not None:
            bad |= np.asarray(mask, bool)
        data = np.where(bad, 0.0, data)
        self._coverage += ~bad
        p_hat = sfft.rfft2(embed_centred(psf / psf.sum(), self.shape))
        weight = flux_scale / sigma**2
        self._numerator += weight * np.conj(p_hat) * sfft.rfft2(data)
        self._power += weight * flux_scale * np.abs(p_hat) ** 2
        self._flux_power += flux_scale**2 / sigma**2
        self._stamp = self._stamp or (int(psf.shape[0]), int(psf.shape[1]))
        self.n += 1

    def result(self) -> ProperCoadd:
        """The coadd of the frames added so far (`DifferencingError` when none was)."""
        if self.n == 0 or self._stamp is None:
            raise DifferencingError("proper coadd: no frames given")
        denominator = np.sqrt(self._power)
        # Frequencies no PSF passes carry no signal: leave them at zero.
        safe = denominator > 1e-12 * denominator.max()
        r_hat = np.where(safe, self._numerator / np.where(safe, denominator, 1.0), 0.0)
        image_r = sfft.irfft2(r_hat, s=self.shape)
        flux_scale = float(np.sqrt(self._flux_power))
        psf_full = sfft.irfft2(denominator / flux_scale, s=self.shape)
        stamp = (max(self._stamp[0], 3) | 1, max(self._stamp[1], 3) | 1)
        psf_r = _centred_stamp(psf_full, stamp)
        return ProperCoadd(
            image=image_r.astype(np.float32),
            psf=psf_r / psf_r.sum(),
            flux_scale=flux_scale,
            coverage=self._coverage,
        )


def proper_coadd(
    images: Sequence[np.ndarray],
    psfs: Sequence[np.ndarray],
    sigmas: Sequence[float],
    flux_scales: Sequence[float],
    masks: Sequence[np.ndarray] | None = None,
) -> ProperCoadd:
    """The proper coadd of aligned, background-subtracted frames.

    Parameters
    ----------
    images : sequence of ndarray
        The frames on one pixel grid, background subtracted.
    psfs : sequence of ndarray
        Each frame's PSF as a centred stamp (normalised here to unit sum).
    sigmas : sequence of float
        Each frame's background noise (1σ, counts).
    flux_scales : sequence of float
        Each frame's counts per unit of true flux (relative values suffice).
    masks : sequence of ndarray of bool, optional
        True where a frame's pixel is unusable (set to 0: it adds no signal and no noise).

    Raises
    ------
    DifferencingError
        No frames, frames of different shapes, a non-positive σ or flux scale, a PSF that
        is not a finite stamp of positive sum, or a mask that does not match its frame.
    """
    n = len(images)
    if n == 0:
        raise DifferencingError("proper coadd: no frames given")
    lengths = {"psfs": len(psfs), "sigmas": len(sigmas), "flux_scales": len(flux_scales)}
    if masks is not None:
        lengths["masks"] = len(masks)
    wrong = {name: k for name, k in lengths.items() if k != n}
    if wrong:
        raise DifferencingError(f"proper coadd: {n} frames but {wrong}", **wrong)
    total = ProperCoaddSum(np.shape(images[0]))
    for j, image in enumerate(images):
        total.add(image, psfs[j], sigmas[j], flux_scales[j], None if masks is None else masks[j])
    return total.result()


def _centred_stamp(kernel: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The `size` stamp around pixel (0, 0) of a wrapped kernel, centred."""
    ys = (np.arange(size[0]) - size[0] // 2) % kernel.shape[0]
    xs = (np.arange(size[1]) - size[1] // 2) % kernel.shape[1]
    return np.asarray(kernel[np.ix_(ys, xs)], np.float64)
