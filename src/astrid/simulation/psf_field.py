"""The simulator's optics: an elliptical Moffat PSF that varies smoothly across a chip.

Stamps are pixel-integrated (sub-sampled ``5 x 5`` per pixel) and normalised to unit sum.
Pixels are 0-based with centres on integers; positions are ``(x, y)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MoffatPSFField"]

_OVERSAMPLE = 5  # sub-pixels per pixel side when integrating a PSF over pixels
_ELEMENT_BUDGET = 2_000_000  # sub-pixel samples evaluated at once by the stamp renderer


@dataclass(frozen=True)
class MoffatPSFField:
    """An elliptical Moffat PSF whose size, ellipticity and orientation vary across a chip.

    The FWHM (geometric mean of the axes) grows quadratically from ``fwhm_center`` at the
    chip centre to ``fwhm_corner`` at the corners. The complex ellipticity is a constant part
    (30 % of ``max_ellipticity``, position angle ``angle0``) plus a tangential part growing
    quadratically to 70 % at the corners, so it is smooth everywhere and never exceeds
    ``max_ellipticity``.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` of the chip.
    fwhm_center, fwhm_corner : float
        FWHM in pixels.
    max_ellipticity : float
        Largest ``1 - b/a``.
    beta : float
        Moffat index.
    angle0 : float
        Position angle (radians, from +x towards +y) of the constant ellipticity part.
    """

    shape: tuple[int, int]
    fwhm_center: float
    fwhm_corner: float
    max_ellipticity: float
    beta: float
    angle0: float = 0.0

    def _normalised_offsets(
        self, x: np.ndarray | float, y: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        ny, nx = self.shape
        xc, yc = (nx - 1) / 2.0, (ny - 1) / 2.0
        rc = math.hypot(xc, yc)
        return (np.asarray(x, float) - xc) / rc, (np.asarray(y, float) - yc) / rc

    def fwhm(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        """FWHM in pixels at ``(x, y)``."""
        u, v = self._normalised_offsets(x, y)
        return self.fwhm_center + (self.fwhm_corner - self.fwhm_center) * (u * u + v * v)

    def shape_parameters(
        self, x: np.ndarray | float, y: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """FWHM (px), ellipticity ``1 - b/a`` and major-axis angle (rad) at ``(x, y)``."""
        u, v = self._normalised_offsets(x, y)
        eps = self.max_ellipticity * (0.3 * np.exp(2j * self.angle0) - 0.7 * (u + 1j * v) ** 2)
        return self.fwhm(x, y), np.abs(eps), 0.5 * np.angle(eps)

    def _quadratic_form(
        self, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coefficients ``a, b, c`` of ``(r/alpha)**2 = a dx^2 + 2 b dx dy + c dy^2``."""
        fwhm, ell, theta = self.shape_parameters(x, y)
        alpha = fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / self.beta) - 1.0))
        q = 1.0 - ell
        inv_a2 = q / alpha**2  # 1 / alpha_major^2, alpha_major = alpha / sqrt(q)
        inv_b2 = 1.0 / (q * alpha**2)
        cos, sin = np.cos(theta), np.sin(theta)
        a = cos**2 * inv_a2 + sin**2 * inv_b2
        c = sin**2 * inv_a2 + cos**2 * inv_b2
        b = cos * sin * (inv_a2 - inv_b2)
        return a, b, c

    def render(
        self, x: np.ndarray, y: np.ndarray, size: int, *, subpixel: bool = True
    ) -> np.ndarray:
        """Unit-sum pixelised PSF stamps for many positions at once.

        Parameters
        ----------
        x, y : numpy.ndarray
            Positions (pixels) where the PSF shape is evaluated.
        size : int
            Odd stamp side.
        subpixel : bool
            If True the profile is centred at ``(x - round(x), y - round(y))`` from the stamp
            centre, i.e. the stamp is what a source at ``(x, y)`` puts on the pixels around
            ``round(x), round(y)``; if False it is centred on the stamp centre.

        Returns
        -------
        numpy.ndarray
            ``(len(x), size, size)`` stamps, each summing to 1.
        """
        if size % 2 == 0:
            raise ValueError(f"PSF stamp size must be odd, got {size}")
        x = np.atleast_1d(np.asarray(x, float))
        y = np.atleast_1d(np.asarray(y, float))
        if subpixel:
            dx, dy = x - np.floor(x + 0.5), y - np.floor(y + 0.5)
        else:
            dx, dy = np.zeros_like(x), np.zeros_like(y)
        a, b, c = self._quadratic_form(x, y)
        return _moffat_stamps(dx, dy, a, b, c, self.beta, size)

    def stamp(self, x: float, y: float, size: int = 31, *, subpixel: bool = False) -> np.ndarray:
        """Unit-sum pixelised PSF at ``(x, y)``, centred on the stamp centre by default."""
        return self.render(np.array([x]), np.array([y]), size, subpixel=subpixel)[0]

    def profile_at(self, x: np.ndarray, y: np.ndarray, radius: np.ndarray) -> np.ndarray:
        """Unit-flux surface brightness at ``radius`` px along the major axis (wing estimate)."""
        fwhm, ell, _ = self.shape_parameters(x, y)
        alpha = fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / self.beta) - 1.0))
        alpha_major = alpha / np.sqrt(1.0 - ell)
        norm = (self.beta - 1.0) / (math.pi * alpha**2)
        return norm * (1.0 + (radius / alpha_major) ** 2) ** (-self.beta)


def _moffat_stamps(
    dx: np.ndarray,
    dy: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    beta: float,
    size: int,
) -> np.ndarray:
    """Pixel-integrated (sub-sampled) Moffat stamps normalised to unit sum."""
    n, half, os_ = len(dx), size // 2, _OVERSAMPLE
    t = ((np.arange(size * os_) + 0.5) / os_ - 0.5 - half).astype(np.float32)
    out = np.empty((n, size, size))
    batch = max(1, _ELEMENT_BUDGET // (size * os_) ** 2)
    for start in range(0, n, batch):
        sl = slice(start, start + batch)
        ddx = t[None, None, :] - dx[sl, None, None].astype(np.float32)
        ddy = t[None, :, None] - dy[sl, None, None].astype(np.float32)
        q = a[sl, None, None].astype(np.float32) * ddx * ddx
        q = q + (2.0 * b[sl, None, None].astype(np.float32) * ddy) * ddx
        q += c[sl, None, None].astype(np.float32) * ddy * ddy
        q += np.float32(1.0)
        prof = _negative_power(q, beta)
        stamps = prof.reshape(-1, size, os_, size, os_).sum(-1).sum(2).astype(np.float64)
        out[sl] = stamps / stamps.sum(axis=(1, 2), keepdims=True)
    return out


def _negative_power(x: np.ndarray, beta: float) -> np.ndarray:
    """``x ** -beta``, by products and a square root when ``2 beta`` is a small integer."""
    twice = 2.0 * beta
    if abs(twice - round(twice)) > 1e-9 or twice > 16:
        return np.power(x, np.float32(-beta) if x.dtype == np.float32 else -beta)
    whole, half = divmod(round(twice), 2)
    out = np.sqrt(x) if half else np.ones_like(x)
    for _ in range(whole):
        out *= x
    return np.reciprocal(out, out=out)
