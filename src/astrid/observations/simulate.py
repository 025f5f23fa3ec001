"""Seeded simulator of a science / reference image pair with known truth.

The simulator draws one patch of sky (stars, galaxies) and observes it twice: a deep
*reference* (template) and a shallower *science* image taken later, each with its own TAN
WCS, its own spatially varying PSF and its own noise. The science image additionally holds
the changes a difference-imaging pipeline must find (``transient``,
``transient_on_galaxy``), real changes it should report but which are not new objects
(``variable``) and detector artifacts it must reject (``cosmic_ray``, ``hot_pixel``,
``bad_column``, ``satellite_trail``). Every injected object is listed in a truth table in the
format of the reference scorer (``kind, ra, dec, x, y, flux, snr``).

Conventions
-----------
- Pixels are 0-based with pixel centres on integers; arrays are indexed ``[y, x]``, tables
  and positions are ``(x, y)``. Truth ``x, y`` are science-image pixels, ``ref_x, ref_y``
  reference-image pixels, both from the images' own WCS (``world_to_pixel``).
- Sky positions are degrees ICRS.
- Fluxes are total ADU in the *science* image unless a column says otherwise. The reference
  sees every flux multiplied by ``config.reference_flux_scale`` (it is treated as an exposure
  that many times longer, ``EXPTIME`` scaled alike, under a sky of ``sky_reference`` ADU);
  that scale is chosen so that the reference's background noise, expressed in science flux
  units, is ``reference_depth`` times lower than the science image's.
- ``snr`` is the matched-filter signal-to-noise of an object's own added signal ``s`` on the
  science image's white background noise, ``sqrt(sum(s**2)) / sigma_pix``; for a point source
  of flux ``F`` and unit-sum pixelised PSF ``P`` that is ``F * sqrt(sum(P**2)) / sigma_pix``,
  with ``sigma_pix = sqrt(sky * gain + read_noise**2) / gain``. For variables it carries the
  sign of the flux change.
- Magnitudes use the science zero point ``SCIENCE_ZERO_POINT`` (mag of 1 ADU).
- Images are float32 ADU with the sky *included*; their masks are all False: finding bad
  pixels is the pipeline's job.

Examples
--------
>>> from astrid.observations.simulate import SimulationConfig, simulate_pair
>>> pair = simulate_pair(SimulationConfig(shape=(256, 256), n_stars=60, n_galaxies=10,
...                                       n_transients=10, n_transients_on_galaxies=2),
...                      seed=1)
>>> pair.science.shape
(256, 256)
>>> int((pair.truth["kind"] == "transient").sum())
10
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from scipy import optimize, signal
from scipy.spatial import cKDTree

from astrid.errors import ConfigurationError
from astrid.observations.image import Image, ImageMeta

__all__ = [
    "ARTIFACT_KINDS",
    "SCIENCE_ZERO_POINT",
    "TRUTH_COLUMNS",
    "ArtifactConfig",
    "MoffatPSFField",
    "SimulatedPair",
    "SimulationConfig",
    "add_artifacts",
    "inject_point_sources",
    "simulate_pair",
]

TRUTH_COLUMNS: tuple[str, ...] = ("kind", "ra", "dec", "x", "y", "flux", "snr")
"""The columns the reference scorer reads, in order; extra columns follow them."""

ARTIFACT_KINDS: tuple[str, ...] = ("cosmic_ray", "hot_pixel", "bad_column", "satellite_trail")
"""Truth kinds of detector artifacts (science image only)."""

SCIENCE_ZERO_POINT = 28.0
"""Magnitude of 1 ADU in the science image."""

SCIENCE_EXPTIME = 60.0
SCIENCE_MJD = 60400.25
REFERENCE_MJD = 60310.20
FILTER = "r"

_OVERSAMPLE = 5  # sub-pixels per pixel side when integrating a PSF over pixels
_ELEMENT_BUDGET = 2_000_000  # sub-pixel samples evaluated at once by the stamp renderer
_EDGE_MARGIN = 30  # px between a transient and the image edge
_TRANSIENT_SEPARATION = 20.0  # px between two transients
_ARTIFACT_CLEARANCE = 10.0  # px between an artifact and a transient or variable
_SATURATED_FRACTION = 0.01  # wanted fraction of stars that saturate the science image
#: Truth columns of elongated artifacts (NaN for other kinds): ``length`` in pixels along
#: ``angle`` (radians from the +x axis); a satellite trail crosses the whole image.
_EXTENT_COLUMNS = ("length", "angle")


@dataclass(frozen=True)
class ArtifactConfig:
    """How many detector artifacts of each kind to add (see `add_artifacts`).

    Attributes
    ----------
    n_cosmic_rays : int
        Half compact blobs of 1-3 pixels, half straight tracks of 3-15 pixels, 5-100 σ.
    n_hot_pixels : int
        Single pixels at 20-500 σ.
    n_bad_columns : int
        100-500 pixel segments of one column stuck near 0 or 50-200 σ above the sky.
    n_satellite_trails : int
        Straight lines about 3 pixels wide across the whole image.
    trail_sigma : tuple of float
        Range of a trail's peak brightness in units of the background noise σ.
    """

    n_cosmic_rays: int = 40
    n_hot_pixels: int = 30
    n_bad_columns: int = 2
    n_satellite_trails: int = 0
    trail_sigma: tuple[float, float] = (1.0, 3.0)


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate.

    Attributes
    ----------
    shape : tuple of int
        ``(ny, nx)`` of both images.
    pixel_scale : float
        Arcsec per pixel, both images.
    center : tuple of float
        RA, Dec (degrees) of the science image centre.
    science_fwhm, reference_fwhm : tuple of float
        PSF FWHM in pixels at the chip centre and at the chip corners; it grows quadratically
        with the distance from the centre. The FWHM of an elliptical PSF is the geometric mean
        of its major- and minor-axis FWHMs.
    ellipticity : float
        Largest PSF ellipticity ``1 - b/a`` (reached at the corners); the orientation varies
        smoothly across the chip.
    moffat_beta : float
        Moffat index of the PSF.
    gain, read_noise : float
        e-/ADU and e-, both images.
    sky_science, sky_reference : float
        Sky level in ADU per pixel.
    reference_depth : float
        The reference's background noise per pixel, in science flux units, is this many times
        lower than the science's; see `reference_flux_scale`.
    reference_offset_px : float
        Reference pointing offset in pixels (random direction), plus a random sub-pixel part.
    reference_rotation_deg : float
        Rotation of the reference's pixel grid relative to the science's.
    saturation : float
        ADU; brighter pixels are clipped and their excess charge bleeds along the column.
    n_stars, n_galaxies : int
        Number of stars and galaxies centred on the science image (a few more are drawn in a
        margin around it so that the shifted reference is filled too).
    n_transients : int
        Isolated point sources on empty sky, science image only.
    n_transients_on_galaxies : int
        Point sources at 0.3-1.5 effective radii from a galaxy centre, science image only.
    snr_range : tuple of float
        Matched-filter SNR range of the transients (drawn log-uniformly).
    n_variables : int
        Stars whose science flux differs from their reference flux by 20-100 %.
    n_cosmic_rays, n_hot_pixels, n_bad_columns, n_satellite_trails : int
        Artifacts added to the science image only.
    trail_sigma : tuple of float
        Range of a satellite trail's peak brightness, in units of the science background
        noise per pixel (drawn uniformly).
    psf_size : int
        Odd side of the stamp on which point sources are rendered (bright stars get larger
        stamps so that their wings are not cut).
    """

    shape: tuple[int, int] = (1024, 1024)
    pixel_scale: float = 0.7
    center: tuple[float, float] = (150.0, 2.0)
    science_fwhm: tuple[float, float] = (3.2, 3.9)
    reference_fwhm: tuple[float, float] = (2.7, 3.1)
    ellipticity: float = 0.08
    moffat_beta: float = 3.5
    gain: float = 1.5
    read_noise: float = 6.0
    sky_science: float = 800.0
    sky_reference: float = 1600.0
    reference_depth: float = 3.0
    reference_offset_px: float = 6.0
    reference_rotation_deg: float = 0.1
    saturation: float = 60000.0
    n_stars: int = 1500
    n_galaxies: int = 300
    n_transients: int = 200
    n_transients_on_galaxies: int = 50
    snr_range: tuple[float, float] = (3.0, 40.0)
    n_variables: int = 20
    n_cosmic_rays: int = 40
    n_hot_pixels: int = 30
    n_bad_columns: int = 2
    n_satellite_trails: int = 0
    trail_sigma: tuple[float, float] = (1.0, 3.0)
    psf_size: int = 31

    def __post_init__(self) -> None:
        ny, nx = self.shape
        if min(ny, nx) < 2 * _EDGE_MARGIN + 8:
            raise ConfigurationError(
                f"SimulationConfig.shape must be at least {2 * _EDGE_MARGIN + 8} px a side, "
                f"got {self.shape}",
                shape=self.shape,
            )
        if self.psf_size < 5 or self.psf_size % 2 == 0:
            raise ConfigurationError(
                f"SimulationConfig.psf_size must be odd and >= 5, got {self.psf_size}",
                psf_size=self.psf_size,
            )
        if self.moffat_beta <= 1.0:
            raise ConfigurationError(
                f"SimulationConfig.moffat_beta must be > 1, got {self.moffat_beta}",
                moffat_beta=self.moffat_beta,
            )
        if not 0.0 <= self.ellipticity < 1.0:
            raise ConfigurationError(
                f"SimulationConfig.ellipticity must be in [0, 1), got {self.ellipticity}",
                ellipticity=self.ellipticity,
            )
        lo, hi = self.snr_range
        if not 0.0 < lo <= hi:
            raise ConfigurationError(
                f"SimulationConfig.snr_range must satisfy 0 < low <= high, got {self.snr_range}",
                snr_range=self.snr_range,
            )
        for name in ("science_fwhm", "reference_fwhm"):
            if min(getattr(self, name)) <= 0:
                raise ConfigurationError(
                    f"SimulationConfig.{name} must be positive, got {getattr(self, name)}",
                    **{name: getattr(self, name)},
                )
        for name in ("gain", "pixel_scale", "sky_science", "sky_reference", "reference_depth"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(
                    f"SimulationConfig.{name} must be positive, got {getattr(self, name)}",
                    **{name: getattr(self, name)},
                )
        if self.n_transients_on_galaxies > self.n_galaxies:
            raise ConfigurationError(
                "SimulationConfig.n_transients_on_galaxies must not exceed n_galaxies, got "
                f"{self.n_transients_on_galaxies} > {self.n_galaxies}",
                n_transients_on_galaxies=self.n_transients_on_galaxies,
                n_galaxies=self.n_galaxies,
            )

    @property
    def science_sigma(self) -> float:
        """Background noise per pixel of the science image (ADU)."""
        return _background_sigma(self.sky_science, self.gain, self.read_noise)

    @property
    def reference_sigma(self) -> float:
        """Background noise per pixel of the reference image (reference ADU)."""
        return _background_sigma(self.sky_reference, self.gain, self.read_noise)

    @property
    def reference_flux_scale(self) -> float:
        """Reference ADU per science ADU of the same source.

        ``reference_depth * reference_sigma / science_sigma``, so that the reference's
        background noise divided by this scale is ``reference_depth`` times the science's.
        """
        return self.reference_depth * self.reference_sigma / self.science_sigma

    @property
    def artifacts(self) -> ArtifactConfig:
        """The artifact counts of this config."""
        return ArtifactConfig(
            n_cosmic_rays=self.n_cosmic_rays,
            n_hot_pixels=self.n_hot_pixels,
            n_bad_columns=self.n_bad_columns,
            n_satellite_trails=self.n_satellite_trails,
            trail_sigma=self.trail_sigma,
        )


def _background_sigma(sky: float, gain: float, read_noise: float) -> float:
    """Per-pixel noise in ADU of a background of ``sky`` ADU."""
    return math.sqrt(sky * gain + read_noise**2) / gain


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


def _add_stamps(
    image: np.ndarray, stamps: np.ndarray, ix: np.ndarray, iy: np.ndarray, scale: np.ndarray
) -> None:
    """Add ``scale[k] * stamps[k]`` centred on pixel ``(ix[k], iy[k])``, clipped to the image."""
    ny, nx = image.shape
    size = stamps.shape[1]
    half = size // 2
    for k in range(len(ix)):
        x0, y0 = int(ix[k]) - half, int(iy[k]) - half
        xa, xb = max(x0, 0), min(x0 + size, nx)
        ya, yb = max(y0, 0), min(y0 + size, ny)
        if xa >= xb or ya >= yb:
            continue
        image[ya:yb, xa:xb] += scale[k] * stamps[k, ya - y0 : yb - y0, xa - x0 : xb - x0]


def _nearest_pixel(v: np.ndarray) -> np.ndarray:
    """Index of the pixel containing ``v`` (halves rounded up, unlike ``np.round``)."""
    return np.floor(np.asarray(v, float) + 0.5).astype(np.int64)


@dataclass(frozen=True)
class _PointStamps:
    """Unit-sum stamps of many point sources, grouped by stamp size.

    Bright sources get stamps large enough that their cut wings stay below a tenth of the
    background noise; sources whose stamp misses the image are not rendered.
    """

    n: int
    groups: tuple[tuple[np.ndarray, np.ndarray], ...]  # (source indices, stamps)

    @classmethod
    def render(
        cls,
        psf: MoffatPSFField,
        x: np.ndarray,
        y: np.ndarray,
        max_flux: np.ndarray,
        *,
        psf_size: int,
        sigma: float,
    ) -> _PointStamps:
        ny, nx = psf.shape
        sizes = [psf_size, 2 * psf_size + 1, 4 * psf_size + 3, 8 * psf_size + 7]
        needed = np.full(len(x), sizes[-1])
        for size in reversed(sizes):
            wing = np.abs(max_flux) * psf.profile_at(x, y, np.full(len(x), size // 2))
            needed[wing < 0.1 * sigma] = size
        groups = []
        for size in sizes:
            half = size // 2
            idx = np.nonzero(
                (needed == size)
                & (x > -half - 1)
                & (x < nx + half)
                & (y > -half - 1)
                & (y < ny + half)
            )[0]
            if len(idx):
                groups.append((idx, psf.render(x[idx], y[idx], size)))
        return cls(len(x), tuple(groups))

    def peak(self) -> np.ndarray:
        """Largest pixel of each stamp (0 where not rendered)."""
        out = np.zeros(self.n)
        for idx, stamps in self.groups:
            out[idx] = stamps.max(axis=(1, 2))
        return out

    def sum_sq(self) -> np.ndarray:
        """``sum(P**2)`` of each stamp (0 where not rendered)."""
        out = np.zeros(self.n)
        for idx, stamps in self.groups:
            out[idx] = np.sum(stamps**2, axis=(1, 2))
        return out

    def add_to(self, image: np.ndarray, x: np.ndarray, y: np.ndarray, flux: np.ndarray) -> None:
        """Add every source of non-zero flux."""
        for idx, stamps in self.groups:
            keep = flux[idx] != 0
            sel = idx[keep]
            _add_stamps(
                image, stamps[keep], _nearest_pixel(x[sel]), _nearest_pixel(y[sel]), flux[sel]
            )


def _sersic_b(n: float) -> float:
    """Ciotti & Bertin (1999) approximation of the Sersic ``b_n``."""
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n)


def _sersic_stamp(
    dx: float, dy: float, metric: np.ndarray, n: float, r_eff: float, half: int
) -> np.ndarray:
    """Sersic surface brightness on a ``2*half+1`` stamp, centred ``(dx, dy)`` off its centre.

    ``metric`` is the 2x2 matrix of the circularised radius, ``r^2 = d^T metric d``. The core
    is integrated over 7x7 sub-pixels; the profile is tapered to zero between 4 and 6 r_eff.
    """
    b_n = _sersic_b(n)

    def profile(xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
        r2 = metric[0, 0] * xx * xx + 2.0 * metric[0, 1] * xx * yy + metric[1, 1] * yy * yy
        r = np.sqrt(r2) / r_eff
        taper = np.clip((6.0 - r) / 2.0, 0.0, 1.0)
        taper = taper * taper * (3.0 - 2.0 * taper)
        return np.exp(-b_n * (r ** (1.0 / n) - 1.0)) * taper

    t = np.arange(-half, half + 1, dtype=float)
    image = profile(t[None, :] - dx, t[:, None] - dy)
    core, os_ = min(4, half), 7
    sub = (np.arange(os_) + 0.5) / os_ - 0.5
    tc = (np.arange(-core, core + 1)[:, None] + sub[None, :]).ravel()
    fine = profile(tc[None, :] - dx, tc[:, None] - dy)
    side = 2 * core + 1
    image[half - core : half + core + 1, half - core : half + core + 1] = fine.reshape(
        side, os_, side, os_
    ).mean(axis=(1, 3))
    return image


def _galaxy_stamp(
    x: float,
    y: float,
    metric: np.ndarray,
    n: float,
    r_eff: float,
    kernel: np.ndarray,
) -> np.ndarray:
    """Unit-sum Sersic stamp for a galaxy at ``(x, y)``, convolved with the centred PSF."""
    axis_ratio_inv = math.sqrt(max(np.linalg.eigvalsh(np.linalg.inv(metric)).max(), 1.0))
    half = math.ceil(6.0 * r_eff * axis_ratio_inv) + kernel.shape[0] // 2 + 1
    dx, dy = x - math.floor(x + 0.5), y - math.floor(y + 0.5)
    sersic = _sersic_stamp(dx, dy, metric, n, r_eff, half)
    conv = np.clip(signal.fftconvolve(sersic, kernel, mode="same"), 0.0, None)
    return conv / conv.sum()


def _tan_wcs(
    shape: tuple[int, int], pixel_scale: float, center: tuple[float, float], rotation_deg: float
) -> WCS:
    """TAN WCS with the reference pixel at the image centre, north up, east left."""
    ny, nx = shape
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crpix = [(nx + 1) / 2.0, (ny + 1) / 2.0]
    wcs.wcs.crval = [float(center[0]) % 360.0, float(center[1])]
    scale = pixel_scale / 3600.0
    rot = math.radians(rotation_deg)
    cos, sin = math.cos(rot), math.sin(rot)
    wcs.wcs.cd = scale * np.array([[-cos, sin], [sin, cos]])
    wcs.wcs.radesys = "ICRS"
    wcs.wcs.set()
    return wcs


def _bleed(data: np.ndarray, saturation: float) -> np.ndarray:
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


def _add_noise(
    model: np.ndarray, gain: float, read_noise: float, rng: np.random.Generator
) -> np.ndarray:
    """Poisson noise on the electrons of ``model`` plus Gaussian read noise, in ADU."""
    electrons = rng.poisson(np.clip(model, 0.0, None) * gain).astype(np.float64)
    electrons += rng.normal(0.0, read_noise, size=model.shape)
    return electrons / gain


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
    >>> from astrid.observations.simulate import inject_point_sources
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
        _add_stamps(data, noisy[None], np.array([ix]), np.array([iy]), np.array([1.0]))
    return image.with_data(data.astype(image.data.dtype, copy=False))


@dataclass(frozen=True, eq=False)
class SimulatedPair:
    """A simulated reference / science pair with its truth table.

    Attributes
    ----------
    science, reference : Image
        float32 ADU, sky included, masks all False.
    truth : astropy.table.Table
        One row per object: ``kind, ra, dec, x, y, flux, snr`` (the scorer's format, see the
        module docstring) followed by ``ref_x, ref_y`` (reference pixels), ``flux_science``
        (science ADU), ``flux_reference`` (reference ADU) and ``mag`` (science zero point).
        Kinds: ``star``, ``saturated_star``, ``variable``, ``galaxy``, ``transient``,
        ``transient_on_galaxy`` and the artifact kinds. For a variable ``flux`` is the
        science-minus-reference flux in science ADU.
    config : SimulationConfig
    seed : int
    science_psf_field, reference_psf_field : MoffatPSFField
        The PSFs the images were rendered with, in each image's own pixel frame.
    """

    science: Image
    reference: Image
    truth: Table
    config: SimulationConfig
    seed: int
    science_psf_field: MoffatPSFField = field(repr=False)
    reference_psf_field: MoffatPSFField = field(repr=False)

    @property
    def reference_flux_scale(self) -> float:
        """Reference ADU per science ADU (`SimulationConfig.reference_flux_scale`)."""
        return self.config.reference_flux_scale

    def science_psf(
        self, x: float, y: float, size: int = 31, *, subpixel: bool = False
    ) -> np.ndarray:
        """Unit-sum pixelised science PSF as rendered at science pixel ``(x, y)``.

        Centred on the stamp centre, or with ``subpixel=True`` exactly the stamp a source at
        ``(x, y)`` was rendered with (offset by ``x - round(x), y - round(y)``).
        """
        return self.science_psf_field.stamp(x, y, size, subpixel=subpixel)

    def reference_psf(
        self, x: float, y: float, size: int = 31, *, subpixel: bool = False
    ) -> np.ndarray:
        """Unit-sum pixelised reference PSF at *reference* pixel ``(x, y)``; see `science_psf`."""
        return self.reference_psf_field.stamp(x, y, size, subpixel=subpixel)

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write ``reference.fits``, ``science.fits`` and ``truth.csv`` into ``directory``.

        Returns
        -------
        dict of str to pathlib.Path
            Paths under the keys ``"reference"``, ``"science"`` and ``"truth"``.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "reference": out / "reference.fits",
            "science": out / "science.fits",
            "truth": out / "truth.csv",
        }
        self.reference.to_hdu().writeto(paths["reference"], overwrite=True)
        self.science.to_hdu().writeto(paths["science"], overwrite=True)
        self.truth.write(paths["truth"], format="ascii.csv", overwrite=True)
        return paths


@dataclass
class _Rows:
    """Truth rows accumulated kind by kind; a column a kind does not give is NaN for it."""

    parts: list[tuple[str, int, dict[str, np.ndarray]]] = field(default_factory=list)

    def add(self, kind: str, **values: np.ndarray) -> None:
        n = len(values["x"])
        self.parts.append((kind, n, {k: np.asarray(v, dtype=float) for k, v in values.items()}))

    def table(self) -> Table:
        names = [*TRUTH_COLUMNS, "ref_x", "ref_y", "flux_science", "flux_reference", "mag"]
        names += [*_EXTENT_COLUMNS]
        cols: list[np.ndarray] = []
        for name in names:
            if name == "kind":
                kinds = [np.full(n, kind, dtype="<U20") for kind, n, _ in self.parts]
                cols.append(np.concatenate(kinds) if kinds else np.array([], dtype="<U20"))
                continue
            values = [v.get(name, np.full(n, np.nan)) for _, n, v in self.parts]
            cols.append(np.concatenate(values) if values else np.array([], dtype=float))
        return Table(cols, names=names)


def _power_law_fluxes(
    rng: np.random.Generator, n: int, f_lo: float, f_sat: float, f_hi: float
) -> np.ndarray:
    """Fluxes with ``dN/dF ∝ F^-(1+b)`` on ``[f_lo, f_hi]``, ``b`` set so ~1 % exceed f_sat."""

    def above(b: float) -> float:
        return (f_sat**-b - f_hi**-b) / (f_lo**-b - f_hi**-b) - _SATURATED_FRACTION

    try:
        b = optimize.brentq(above, 1e-3, 5.0) if f_lo < f_sat < f_hi else 1.0
    except ValueError:  # no slope gives the wanted fraction; fall back to dN/dF ∝ F^-2
        b = 1.0
    u = rng.uniform(size=n)
    return (f_lo**-b - u * (f_lo**-b - f_hi**-b)) ** (-1.0 / b)


def _uniform_in_ring(
    rng: np.random.Generator, n: int, shape: tuple[int, int], margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform positions in the frame of width ``margin`` around the image."""
    ny, nx = shape
    xs, ys = [], []
    got = 0
    while got < n:
        x = rng.uniform(-0.5 - margin, nx - 0.5 + margin, size=2 * n + 8)
        y = rng.uniform(-0.5 - margin, ny - 0.5 + margin, size=2 * n + 8)
        keep = (x < -0.5) | (x >= nx - 0.5) | (y < -0.5) | (y >= ny - 0.5)
        xs.append(x[keep])
        ys.append(y[keep])
        got += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _sky_positions(
    rng: np.random.Generator, n_inside: int, shape: tuple[int, int], margin: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Science-pixel positions: ``n_inside`` in the image plus the same density around it."""
    ny, nx = shape
    area, outer = nx * ny, (nx + 2 * margin) * (ny + 2 * margin)
    n_ring = round(n_inside * (outer - area) / area)
    x_in = rng.uniform(-0.5, nx - 0.5, size=n_inside)
    y_in = rng.uniform(-0.5, ny - 0.5, size=n_inside)
    x_ring, y_ring = _uniform_in_ring(rng, n_ring, shape, margin)
    return np.concatenate([x_in, x_ring]), np.concatenate([y_in, y_ring]), n_inside


@dataclass
class _Blockers:
    """What a transient must keep clear of, in science pixels."""

    star_xy: np.ndarray
    star_flux: np.ndarray  # science ADU, brighter of the two epochs
    star_fwhm: np.ndarray
    galaxy_xy: np.ndarray
    galaxy_reff: np.ndarray
    bleed_xy: np.ndarray
    psf: MoffatPSFField
    shape: tuple[int, int]
    sigma: float
    beta: float
    placed: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.star_tree = cKDTree(self.star_xy) if len(self.star_xy) else None
        self.galaxy_tree = cKDTree(self.galaxy_xy) if len(self.galaxy_xy) else None
        self.bleed_tree = cKDTree(self.bleed_xy) if len(self.bleed_xy) else None
        self.max_star_flux = float(self.star_flux.max()) if len(self.star_flux) else 0.0
        self.max_fwhm = max(self.psf.fwhm_center, self.psf.fwhm_corner)
        self.max_reff = float(self.galaxy_reff.max()) if len(self.galaxy_reff) else 0.0

    def flux_estimate(self, x: float, y: float, snr: float) -> float:
        """Flux of a point source of matched-filter ``snr`` (continuous-Moffat estimate)."""
        beta = self.beta
        alpha = float(self.psf.fwhm(x, y)) / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))
        sum_p2 = (beta - 1.0) ** 2 / (math.pi * alpha**2 * (2.0 * beta - 1.0))
        return snr * self.sigma / math.sqrt(sum_p2)

    def allowed(self, x: float, y: float, flux: float, host: int | None = None) -> bool:
        """Whether a point source of ``flux`` at ``(x, y)`` is clear of everything."""
        ny, nx = self.shape
        if not (
            _EDGE_MARGIN <= x <= nx - 1 - _EDGE_MARGIN
            and _EDGE_MARGIN <= y <= ny - 1 - _EDGE_MARGIN
        ):
            return False
        fwhm = float(self.psf.fwhm(x, y))
        if self.placed:
            p = np.asarray(self.placed)
            if np.min(np.hypot(p[:, 0] - x, p[:, 1] - y)) < _TRANSIENT_SEPARATION:
                return False
        if self.bleed_tree is not None and self.bleed_tree.query_ball_point(
            (x, y), 4.0 * fwhm, return_length=True
        ):
            return False
        if self.star_tree is not None:
            # Moffat wings fall as r^-2beta: a star 10^k times brighter is kept farther away.
            grow = lambda f: np.maximum(1.0, (0.1 * f / flux) ** (1.0 / (2.0 * self.beta)))  # noqa: E731
            reach = 4.0 * self.max_fwhm * float(grow(self.max_star_flux))
            near = self.star_tree.query_ball_point((x, y), reach)
            if near:
                near = np.asarray(near)
                d = np.hypot(self.star_xy[near, 0] - x, self.star_xy[near, 1] - y)
                need = 4.0 * self.star_fwhm[near] * grow(self.star_flux[near])
                if np.any(d < need):
                    return False
        if self.galaxy_tree is not None:
            near = self.galaxy_tree.query_ball_point((x, y), 4.0 * fwhm + 2.0 * self.max_reff)
            for g in near:
                if g == host:
                    continue
                d = math.hypot(self.galaxy_xy[g, 0] - x, self.galaxy_xy[g, 1] - y)
                if d < 4.0 * fwhm + 2.0 * self.galaxy_reff[g]:
                    return False
        return True


def _place_transients(
    rng: np.random.Generator,
    blockers: _Blockers,
    snr: np.ndarray,
    n_on_galaxies: int,
    galaxy_order: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions ``(x, y)`` and host index (-1 if none) for each requested transient."""
    ny, nx = blockers.shape
    n = len(snr)
    xs, ys, hosts = np.empty(n), np.empty(n), np.full(n, -1)
    k = 0
    for g in galaxy_order:
        if k >= n_on_galaxies:
            break
        gx, gy = blockers.galaxy_xy[g]
        reff = blockers.galaxy_reff[g]
        flux = blockers.flux_estimate(gx, gy, snr[k])
        for _ in range(30):
            r = rng.uniform(0.3, 1.5) * reff
            phi = rng.uniform(0.0, 2.0 * math.pi)
            x, y = gx + r * math.cos(phi), gy + r * math.sin(phi)
            if blockers.allowed(x, y, flux, host=int(g)):
                xs[k], ys[k], hosts[k] = x, y, g
                blockers.placed.append((x, y))
                k += 1
                break
    if k < n_on_galaxies:
        raise ConfigurationError(
            f"could only place {k} of {n_on_galaxies} transients on galaxies clear of stars "
            "and each other; use fewer transients or stars, or a larger image",
            placed=k,
            requested=n_on_galaxies,
        )
    misses, max_misses = 0, 5000
    while k < n:
        if misses >= max_misses:
            raise ConfigurationError(
                f"could only place {k - n_on_galaxies} of {n - n_on_galaxies} isolated "
                f"transients on empty sky ({max_misses} tries in a row failed); use fewer "
                "transients, stars or galaxies, or a larger image",
                placed=k - n_on_galaxies,
                requested=n - n_on_galaxies,
            )
        x = rng.uniform(_EDGE_MARGIN, nx - 1 - _EDGE_MARGIN)
        y = rng.uniform(_EDGE_MARGIN, ny - 1 - _EDGE_MARGIN)
        if blockers.allowed(x, y, blockers.flux_estimate(x, y, snr[k])):
            xs[k], ys[k] = x, y
            blockers.placed.append((x, y))
            k += 1
            misses = 0
        else:
            misses += 1
    return xs, ys, hosts


def _choose_variables(
    rng: np.random.Generator,
    config: SimulationConfig,
    *,
    xy: np.ndarray,
    inside: np.ndarray,
    saturated: np.ndarray,
    quiet: np.ndarray,
    bright: np.ndarray,
    bleed_xy: np.ndarray,
) -> np.ndarray:
    """Mask of the stars made variable: inside, unsaturated, clear of saturated stars and bleeds.

    Stars of SNR >= 10 are preferred so that most changes are measurable.
    """
    ny, nx = config.shape
    ok = (
        inside
        & quiet
        & ~saturated
        & (xy[:, 0] >= _EDGE_MARGIN)
        & (xy[:, 0] <= nx - 1 - _EDGE_MARGIN)
        & (xy[:, 1] >= _EDGE_MARGIN)
        & (xy[:, 1] <= ny - 1 - _EDGE_MARGIN)
    )
    if saturated.any():
        ok &= _clear_of(xy, cKDTree(xy[saturated]), _EDGE_MARGIN)
    if len(bleed_xy):
        ok &= _clear_of(xy, cKDTree(bleed_xy), _EDGE_MARGIN)
    candidates = np.nonzero(ok & bright)[0]
    if len(candidates) < config.n_variables:
        candidates = np.nonzero(ok)[0]
    if len(candidates) < config.n_variables:
        raise ConfigurationError(
            f"only {len(candidates)} stars can be variables, {config.n_variables} requested; "
            "use more stars or fewer variables",
            available=len(candidates),
            requested=config.n_variables,
        )
    chosen = np.zeros(len(xy), dtype=bool)
    chosen[rng.choice(candidates, size=config.n_variables, replace=False)] = True
    return chosen


def _clear_of(xy: np.ndarray, avoid: cKDTree | None, radius: float) -> np.ndarray:
    """Whether each position is at least ``radius`` from every point of ``avoid``."""
    if avoid is None or len(xy) == 0:
        return np.ones(len(xy), dtype=bool)
    d, _ = avoid.query(xy)
    return np.asarray(d >= radius)


def _draw_clear_positions(
    rng: np.random.Generator, n: int, shape: tuple[int, int], avoid: cKDTree | None
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform pixel positions at least `_ARTIFACT_CLEARANCE` from ``avoid``."""
    ny, nx = shape
    xs: list[np.ndarray] = [np.empty(0)]
    ys: list[np.ndarray] = [np.empty(0)]
    got = 0
    for _ in range(100):
        if got >= n:
            break
        x = rng.integers(2, nx - 2, size=2 * n + 8).astype(float)
        y = rng.integers(2, ny - 2, size=2 * n + 8).astype(float)
        keep = _clear_of(np.column_stack([x, y]), avoid, _ARTIFACT_CLEARANCE)
        xs.append(x[keep])
        ys.append(y[keep])
        got += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _add_artifacts(
    data: np.ndarray,
    config: ArtifactConfig,
    sigma: float,
    sky: float,
    rng: np.random.Generator,
    avoid_xy: np.ndarray,
    rows: _Rows,
    to_sky: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> None:
    """Add cosmic rays, hot pixels, bad columns and satellite trails; record their truth."""
    ny, nx = data.shape
    avoid = cKDTree(avoid_xy) if len(avoid_xy) else None

    def record(
        kind: str,
        x: np.ndarray,
        y: np.ndarray,
        total: np.ndarray,
        snr: np.ndarray,
        length: np.ndarray | None = None,
        angle: np.ndarray | None = None,
    ) -> None:
        ra, dec = to_sky(x, y)
        nan = np.full(len(x), np.nan)
        rows.add(
            kind,
            ra=ra,
            dec=dec,
            x=x,
            y=y,
            flux=total,
            snr=snr,
            ref_x=nan,
            ref_y=nan,
            flux_science=total,
            flux_reference=np.zeros(len(x)),
            mag=nan,
            length=nan if length is None else length,
            angle=nan if angle is None else angle,
        )

    # Cosmic rays: half compact blobs of 1-3 px, half straight tracks of 3-15 px.
    cx, cy, ctot, csnr, clen, cang = [], [], [], [], [], []
    seeds_x, seeds_y = _draw_clear_positions(rng, config.n_cosmic_rays, (ny, nx), avoid)
    for x0, y0 in zip(seeds_x, seeds_y, strict=True):
        amplitude = math.exp(rng.uniform(math.log(5.0), math.log(100.0))) * sigma
        if rng.uniform() < 0.5:
            n_pix = int(rng.integers(1, 4))
            offsets = [(0, 0), (1, 0), (0, 1), (-1, 0), (0, -1), (1, 1)]
            pick = [offsets[0], *[offsets[i] for i in rng.permutation(5)[: n_pix - 1] + 1]]
            px = np.array([x0 + o[0] for o in pick])
            py = np.array([y0 + o[1] for o in pick])
            extent = (float(np.ptp(px) + np.ptp(py) + 1), 0.0)
        else:
            length = rng.uniform(3.0, 15.0)
            phi = rng.uniform(0.0, math.pi)
            t = np.linspace(-length / 2, length / 2, int(4 * length) + 1)
            pts = np.unique(
                np.column_stack(
                    [_nearest_pixel(x0 + t * math.cos(phi)), _nearest_pixel(y0 + t * math.sin(phi))]
                ),
                axis=0,
            )
            px, py = pts[:, 0].astype(float), pts[:, 1].astype(float)
            extent = (length, phi)
        inside = (px >= 0) & (px < nx) & (py >= 0) & (py < ny)
        px, py = px[inside].astype(int), py[inside].astype(int)
        values = amplitude * rng.uniform(0.5, 1.0, size=len(px))
        data[py, px] += values
        cx.append(px.mean())
        cy.append(py.mean())
        ctot.append(values.sum())
        csnr.append(math.sqrt(float(np.sum(values**2))) / sigma)
        clen.append(extent[0])
        cang.append(extent[1])
    if config.n_cosmic_rays:
        record(
            "cosmic_ray",
            np.array(cx),
            np.array(cy),
            np.array(ctot),
            np.array(csnr),
            np.array(clen),
            np.array(cang),
        )

    # Hot pixels: single pixels at 20-500 sigma.
    hx, hy = _draw_clear_positions(rng, config.n_hot_pixels, (ny, nx), avoid)
    if config.n_hot_pixels:
        amp = np.exp(rng.uniform(math.log(20.0), math.log(500.0), size=len(hx))) * sigma
        data[hy.astype(int), hx.astype(int)] += amp
        record("hot_pixel", hx, hy, amp, amp / sigma)

    # Bad columns: a 100-500 px segment of one column stuck low (near 0) or high.
    bx, by, btot, bsnr, blen = [], [], [], [], []
    for _ in range(config.n_bad_columns):
        for _attempt in range(1000):
            length = int(min(rng.integers(100, 501), ny))
            y0 = int(rng.integers(0, ny - length + 1))
            x = int(rng.integers(0, nx))
            near = avoid_xy[
                (np.abs(avoid_xy[:, 0] - x) < _ARTIFACT_CLEARANCE)
                & (avoid_xy[:, 1] > y0 - _ARTIFACT_CLEARANCE)
                & (avoid_xy[:, 1] < y0 + length + _ARTIFACT_CLEARANCE)
            ]
            if len(near) == 0:
                break
        if rng.uniform() < 0.5:
            value = rng.uniform(0.0, 20.0)
        else:
            value = sky + rng.uniform(50.0, 200.0) * sigma
        change = value - data[y0 : y0 + length, x]
        data[y0 : y0 + length, x] = value
        bx.append(float(x))
        by.append(y0 + (length - 1) / 2.0)
        btot.append(float(change.sum()))
        bsnr.append(math.sqrt(float(np.sum((value - sky) ** 2) * length)) / sigma)
        blen.append(float(length))
    if config.n_bad_columns:
        n_bad = len(bx)
        record(
            "bad_column",
            np.array(bx),
            np.array(by),
            np.array(btot),
            np.array(bsnr),
            np.array(blen),
            np.full(n_bad, math.pi / 2),
        )

    # Satellite trails: faint straight lines about 3 px wide across the whole image.
    sx, sy, stot, ssnr, sang = [], [], [], [], []
    if config.n_satellite_trails:
        yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    for _ in range(config.n_satellite_trails):
        x0, y0 = rng.uniform(0.2 * nx, 0.8 * nx), rng.uniform(0.2 * ny, 0.8 * ny)
        phi = rng.uniform(0.0, math.pi)
        dist = np.abs(-(xx - x0) * math.sin(phi) + (yy - y0) * math.cos(phi))
        line = np.clip(2.0 - dist, 0.0, 1.0) * rng.uniform(*config.trail_sigma) * sigma
        data += line
        # the point of the line nearest the image centre
        t = (((nx - 1) / 2 - x0) * math.cos(phi)) + (((ny - 1) / 2 - y0) * math.sin(phi))
        sx.append(x0 + t * math.cos(phi))
        sy.append(y0 + t * math.sin(phi))
        stot.append(float(line.sum()))
        ssnr.append(math.sqrt(float(np.sum(line**2))) / sigma)
        sang.append(phi)
    if config.n_satellite_trails:
        n_trails = len(sx)
        record(
            "satellite_trail",
            np.array(sx),
            np.array(sy),
            np.array(stot),
            np.array(ssnr),
            np.full(n_trails, float(np.hypot(nx, ny))),
            np.array(sang),
        )


def add_artifacts(
    image: Image,
    config: ArtifactConfig,
    *,
    sigma: float,
    avoid_xy: np.ndarray | None = None,
    seed: int | np.random.Generator | None = None,
) -> tuple[Image, Table]:
    """Add detector artifacts to a copy of any image (real or simulated) and list them.

    Parameters
    ----------
    image : Image
        The image (sky included); it is not modified.
    config : ArtifactConfig
        How many of each kind.
    sigma : float
        The image's background noise (1σ), which sets the artifacts' brightness.
    avoid_xy : ndarray, optional
        ``(n, 2)`` positions that artifacts keep 10 pixels away from (e.g. injected fakes).
    seed : int or numpy.random.Generator, optional
        Seed of the positions and brightnesses.

    Returns
    -------
    Image
        The copy with the artifacts.
    Table
        Their truth rows (``kind, ra, dec, x, y, flux, snr, ..., length, angle``) in the
        format of `simulate_pair`'s truth.
    """
    rng = np.random.default_rng(seed)
    data = image.data.astype(np.float64, copy=True)
    good = ~image.mask & np.isfinite(data)
    sky = float(np.median(data[good])) if good.any() else 0.0
    rows = _Rows()

    def to_sky(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if image.wcs is None:
            return np.full(len(x), np.nan), np.full(len(x), np.nan)
        ra, dec = image.wcs.pixel_to_world_values(x, y)
        return np.asarray(ra, float), np.asarray(dec, float)

    avoid = np.empty((0, 2)) if avoid_xy is None else np.asarray(avoid_xy, float).reshape(-1, 2)
    _add_artifacts(data, config, float(sigma), sky, rng, avoid, rows, to_sky)
    return image.with_data(data.astype(image.data.dtype, copy=False)), rows.table()


def _header(
    config: SimulationConfig,
    wcs: WCS,
    *,
    name: str,
    exptime: float,
    mjd: float,
    fwhm: float,
    sky: float,
    zero_point: float,
    seed: int,
) -> fits.Header:
    """FITS header of a simulated image."""
    header = fits.Header()
    header["OBJECT"] = (f"astrid-sim-{name}", "AstrID simulated image")
    header["IMAGETYP"] = (name, "science or reference")
    header["BUNIT"] = ("adu", "pixel units")
    header["FILTER"] = (FILTER, "band")
    header["EXPTIME"] = (exptime, "[s] exposure time")
    header["MJD-OBS"] = (mjd, "[d] MJD of mid-exposure (UTC)")
    header["GAIN"] = (config.gain, "[e-/adu]")
    header["RDNOISE"] = (config.read_noise, "[e-] read noise")
    header["SATURATE"] = (config.saturation, "[adu] saturation level")
    header["FWHM"] = (fwhm, "[pix] PSF FWHM at the image centre")
    header["SKYLEVEL"] = (sky, "[adu] sky level (not subtracted)")
    header["MAGZP"] = (zero_point, "[mag] magnitude of 1 adu")
    header["SIMSEED"] = (seed, "AstrID simulator seed")
    header.update(wcs.to_header(relax=True))
    return header


def simulate_pair(config: SimulationConfig | None = None, *, seed: int = 0) -> SimulatedPair:
    """Simulate a reference / science pair with stars, galaxies, transients and artifacts.

    Parameters
    ----------
    config : SimulationConfig, optional
        What to simulate; defaults to ``SimulationConfig()``.
    seed : int
        Seed of everything random; the same seed and config give identical output.

    Returns
    -------
    SimulatedPair
        The two images, the truth table and the PSFs they were rendered with.

    Raises
    ------
    astrid.errors.ConfigurationError
        If the config is invalid or the transients cannot all be placed on empty sky.
    """
    config = SimulationConfig() if config is None else config
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    rng_geo, rng_star, rng_gal, rng_var, rng_tr, rng_art, rng_noise_s, rng_noise_r = streams
    ny, nx = config.shape
    sigma_s, sigma_r = config.science_sigma, config.reference_sigma
    k_ref = config.reference_flux_scale
    psf_size = config.psf_size

    # Geometry: the reference points `reference_offset_px` (+ a sub-pixel part) away, rotated.
    sci_wcs = _tan_wcs(config.shape, config.pixel_scale, config.center, 0.0)
    phi = rng_geo.uniform(0.0, 2.0 * math.pi)
    offset = config.reference_offset_px * np.array([math.cos(phi), math.sin(phi)])
    offset += rng_geo.uniform(-0.5, 0.5, size=2)
    ref_ra, ref_dec = sci_wcs.pixel_to_world_values(
        (nx - 1) / 2 + offset[0], (ny - 1) / 2 + offset[1]
    )
    ref_wcs = _tan_wcs(
        config.shape,
        config.pixel_scale,
        (float(ref_ra), float(ref_dec)),
        config.reference_rotation_deg,
    )
    psf_s = MoffatPSFField(
        config.shape,
        *config.science_fwhm,
        config.ellipticity,
        config.moffat_beta,
        angle0=rng_geo.uniform(0.0, math.pi),
    )
    psf_r = MoffatPSFField(
        config.shape,
        *config.reference_fwhm,
        config.ellipticity,
        config.moffat_beta,
        angle0=rng_geo.uniform(0.0, math.pi),
    )

    def to_sky(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ra, dec = sci_wcs.pixel_to_world_values(x, y)
        return np.asarray(ra) % 360.0, np.asarray(dec)

    def to_ref(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ra, dec = sci_wcs.pixel_to_world_values(x, y)
        rx, ry = ref_wcs.world_to_pixel_values(ra, dec)
        return np.asarray(rx), np.asarray(ry)

    # Sources are drawn around the science image too, so the shifted reference is full.
    margin = config.reference_offset_px + 2.0 + psf_size
    center_psf = psf_s.stamp((nx - 1) / 2, (ny - 1) / 2, psf_size)
    f_snr5 = 5.0 * sigma_s / math.sqrt(float(np.sum(center_psf**2)))
    f_sat = (config.saturation - config.sky_science) / float(center_psf.max())
    model_s = np.full(config.shape, config.sky_science, dtype=np.float64)
    model_r = np.full(config.shape, config.sky_reference, dtype=np.float64)
    rows = _Rows()

    # Stars (reference flux in science units; variables change in the science epoch).
    sx, sy, n_in = _sky_positions(rng_star, config.n_stars, config.shape, margin)
    sflux = _power_law_fluxes(rng_star, len(sx), f_snr5, max(f_sat, 2 * f_snr5), 30.0 * f_sat)
    srx, sry = to_ref(sx, sy)
    # science stamps are sized for the brightest a variable can get (twice its flux)
    stamps_s = _PointStamps.render(psf_s, sx, sy, 2.0 * sflux, psf_size=psf_size, sigma=sigma_s)
    stamps_r = _PointStamps.render(psf_r, srx, sry, k_ref * sflux, psf_size=psf_size, sigma=sigma_r)
    peak_s, peak_r, sum_p2 = stamps_s.peak(), stamps_r.peak(), stamps_s.sum_sq()
    stamps_s.add_to(model_s, sx, sy, sflux)
    stamps_r.add_to(model_r, srx, sry, k_ref * sflux)
    saturated = (config.sky_science + sflux * peak_s > config.saturation) | (
        config.sky_reference + k_ref * sflux * peak_r > config.saturation
    )

    # Galaxies: PSF-convolved Sersic profiles in both images.
    gx, gy, g_in = _sky_positions(rng_gal, config.n_galaxies, config.shape, margin)
    n_gal = len(gx)
    g_n = rng_gal.uniform(1.0, 4.0, size=n_gal)
    g_reff = rng_gal.uniform(2.0, 8.0, size=n_gal)
    g_q = rng_gal.uniform(0.4, 1.0, size=n_gal)
    g_pa = rng_gal.uniform(0.0, math.pi, size=n_gal)
    g_flux = np.exp(rng_gal.uniform(math.log(10.0 * f_snr5), math.log(300.0 * f_snr5), n_gal))
    grx, gry = to_ref(gx, gy)
    # science-pixel offsets map to reference-pixel offsets through J = CD_ref^-1 CD_sci
    jac = np.linalg.solve(ref_wcs.pixel_scale_matrix, sci_wcs.pixel_scale_matrix)
    jac_inv = np.linalg.inv(jac)
    g_sum_g2 = np.zeros(n_gal)
    kernels_s = psf_s.render(gx, gy, psf_size, subpixel=False)
    kernels_r = psf_r.render(grx, gry, psf_size, subpixel=False)
    for i in range(n_gal):
        cos, sin = math.cos(g_pa[i]), math.sin(g_pa[i])
        rot = np.array([[cos, sin], [-sin, cos]])
        metric_s = rot.T @ np.diag([g_q[i], 1.0 / g_q[i]]) @ rot
        metric_r = jac_inv.T @ metric_s @ jac_inv
        stamp_s = _galaxy_stamp(gx[i], gy[i], metric_s, g_n[i], g_reff[i], kernels_s[i])
        stamp_r = _galaxy_stamp(grx[i], gry[i], metric_r, g_n[i], g_reff[i], kernels_r[i])
        cap = min(
            0.5 * (config.saturation - config.sky_science) / stamp_s.max(),
            0.5 * (config.saturation - config.sky_reference) / (k_ref * stamp_r.max()),
        )
        g_flux[i] = min(g_flux[i], cap)
        g_sum_g2[i] = float(np.sum(stamp_s**2))
        for model, stamp, x, y, scale in (
            (model_s, stamp_s, gx[i], gy[i], g_flux[i]),
            (model_r, stamp_r, grx[i], gry[i], k_ref * g_flux[i]),
        ):
            _add_stamps(
                model,
                stamp[None],
                _nearest_pixel(np.array([x])),
                _nearest_pixel(np.array([y])),
                np.array([scale]),
            )

    # Where bright stars will bleed, in science pixels (both epochs), to keep transients off.
    bleed_s = np.argwhere(_bleed(model_s.copy(), config.saturation))[:, ::-1].astype(float)
    bleed_r = np.argwhere(_bleed(model_r.copy(), config.saturation))[:, ::-1].astype(float)
    if len(bleed_r):
        ra, dec = ref_wcs.pixel_to_world_values(bleed_r[:, 0], bleed_r[:, 1])
        bleed_r = np.column_stack(sci_wcs.world_to_pixel_values(ra, dec))
    bleed_xy = np.concatenate([bleed_s, bleed_r.reshape(-1, 2)])

    # Variables: clean, unsaturated stars whose flux changes by 20-100 % in the science epoch.
    change = rng_var.uniform(0.2, 1.0, size=len(sx)) * rng_var.choice([-1.0, 1.0], size=len(sx))
    is_var = _choose_variables(
        rng_var,
        config,
        xy=np.column_stack([sx, sy]),
        inside=np.arange(len(sx)) < n_in,
        saturated=saturated,
        quiet=(
            config.sky_science + sflux * (1.0 + np.abs(change)) * peak_s < 0.5 * config.saturation
        )
        & (config.sky_reference + k_ref * sflux * peak_r < 0.5 * config.saturation),
        bright=sflux * np.sqrt(sum_p2) / sigma_s >= 10.0,
        bleed_xy=bleed_xy,
    )
    sflux_sci = np.where(is_var, sflux * (1.0 + change), sflux)
    stamps_s.add_to(model_s, sx, sy, sflux_sci - sflux)

    blockers = _Blockers(
        star_xy=np.column_stack([sx, sy]),
        star_flux=np.maximum(sflux, sflux_sci),
        star_fwhm=psf_s.fwhm(sx, sy),
        galaxy_xy=np.column_stack([gx, gy]),
        galaxy_reff=g_reff,
        bleed_xy=bleed_xy,
        psf=psf_s,
        shape=config.shape,
        sigma=sigma_s,
        beta=config.moffat_beta,
    )

    # Transients: science image only, flux from a log-uniform matched-filter SNR.
    n_tr = config.n_transients + config.n_transients_on_galaxies
    lo, hi = config.snr_range
    t_snr = np.exp(rng_tr.uniform(math.log(lo), math.log(hi), size=n_tr))
    host_order = rng_tr.permutation(np.arange(g_in))
    tx, ty, t_host = _place_transients(
        rng_tr, blockers, t_snr, config.n_transients_on_galaxies, host_order
    )
    t_stamps = psf_s.render(tx, ty, psf_size)
    t_flux = t_snr * sigma_s / np.sqrt(np.sum(t_stamps**2, axis=(1, 2)))
    _add_stamps(model_s, t_stamps, _nearest_pixel(tx), _nearest_pixel(ty), t_flux)

    # Noise, then saturation with bleeding, then artifacts (which bypass the optics).
    science = _add_noise(model_s, config.gain, config.read_noise, rng_noise_s)
    reference = _add_noise(model_r, config.gain, config.read_noise, rng_noise_r)
    _bleed(science, config.saturation)
    _bleed(reference, config.saturation)
    avoid_xy = np.concatenate(
        [np.column_stack([tx, ty]), np.column_stack([sx[is_var], sy[is_var]])]
    ).reshape(-1, 2)
    _add_artifacts(
        science, config.artifacts, sigma_s, config.sky_science, rng_art, avoid_xy, rows, to_sky
    )
    np.minimum(science, config.saturation, out=science)
    np.minimum(reference, config.saturation, out=reference)

    # Truth: stars and galaxies on the science image, transients, then artifacts (added above).
    def mag(flux: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(flux > 0, SCIENCE_ZERO_POINT - 2.5 * np.log10(flux), np.nan)

    star_snr = np.sqrt(sum_p2)[:n_in] / sigma_s
    for kind, sel in (
        ("star", ~saturated[:n_in] & ~is_var[:n_in]),
        ("saturated_star", saturated[:n_in]),
        ("variable", is_var[:n_in]),
    ):
        idx = np.nonzero(sel)[0]
        ra, dec = to_sky(sx[idx], sy[idx])
        flux = sflux_sci[idx] - sflux[idx] if kind == "variable" else sflux_sci[idx]
        rows.add(
            kind,
            ra=ra,
            dec=dec,
            x=sx[idx],
            y=sy[idx],
            flux=flux,
            snr=flux * star_snr[idx],
            ref_x=srx[idx],
            ref_y=sry[idx],
            flux_science=sflux_sci[idx],
            flux_reference=k_ref * sflux[idx],
            mag=mag(sflux_sci[idx]),
        )
    ra, dec = to_sky(gx[:g_in], gy[:g_in])
    rows.add(
        "galaxy",
        ra=ra,
        dec=dec,
        x=gx[:g_in],
        y=gy[:g_in],
        flux=g_flux[:g_in],
        snr=g_flux[:g_in] * np.sqrt(g_sum_g2[:g_in]) / sigma_s,
        ref_x=grx[:g_in],
        ref_y=gry[:g_in],
        flux_science=g_flux[:g_in],
        flux_reference=k_ref * g_flux[:g_in],
        mag=mag(g_flux[:g_in]),
    )
    trx, try_ = to_ref(tx, ty)
    for kind, sel in (("transient", t_host < 0), ("transient_on_galaxy", t_host >= 0)):
        ra, dec = to_sky(tx[sel], ty[sel])
        rows.add(
            kind,
            ra=ra,
            dec=dec,
            x=tx[sel],
            y=ty[sel],
            flux=t_flux[sel],
            snr=t_snr[sel],
            ref_x=trx[sel],
            ref_y=try_[sel],
            flux_science=t_flux[sel],
            flux_reference=np.zeros(int(sel.sum())),
            mag=mag(t_flux[sel]),
        )
    truth = rows.table()
    order = {
        k: i
        for i, k in enumerate(
            (
                "star",
                "saturated_star",
                "variable",
                "galaxy",
                "transient",
                "transient_on_galaxy",
                *ARTIFACT_KINDS,
            )
        )
    }
    truth = truth[np.argsort([order[str(k)] for k in truth["kind"]], kind="stable")]
    truth.meta["seed"] = seed
    truth.meta["reference_flux_scale"] = k_ref
    truth.meta["sigma_pix"] = sigma_s

    ref_exptime = SCIENCE_EXPTIME * k_ref
    ref_zp = SCIENCE_ZERO_POINT + 2.5 * math.log10(k_ref)
    sci_header = _header(
        config,
        sci_wcs,
        name="science",
        exptime=SCIENCE_EXPTIME,
        mjd=SCIENCE_MJD,
        fwhm=config.science_fwhm[0],
        sky=config.sky_science,
        zero_point=SCIENCE_ZERO_POINT,
        seed=seed,
    )
    ref_header = _header(
        config,
        ref_wcs,
        name="reference",
        exptime=ref_exptime,
        mjd=REFERENCE_MJD,
        fwhm=config.reference_fwhm[0],
        sky=config.sky_reference,
        zero_point=ref_zp,
        seed=seed,
    )
    images = []
    for name, data, wcs, header, exptime, mjd, fwhm, zp in (
        (
            "science",
            science,
            sci_wcs,
            sci_header,
            SCIENCE_EXPTIME,
            SCIENCE_MJD,
            config.science_fwhm[0],
            SCIENCE_ZERO_POINT,
        ),
        (
            "reference",
            reference,
            ref_wcs,
            ref_header,
            ref_exptime,
            REFERENCE_MJD,
            config.reference_fwhm[0],
            ref_zp,
        ),
    ):
        meta = ImageMeta(
            name=name,
            mjd=mjd,
            filter=FILTER,
            exptime=exptime,
            gain=config.gain,
            read_noise=config.read_noise,
            saturation=config.saturation,
            fwhm=fwhm,
            zero_point=zp,
        )
        images.append(
            Image(
                data=data.astype(np.float32),
                mask=np.zeros(config.shape, dtype=bool),
                wcs=wcs,
                meta=meta,
                header=header,
            )
        )
    return SimulatedPair(
        science=images[0],
        reference=images[1],
        truth=truth,
        config=config,
        seed=seed,
        science_psf_field=psf_s,
        reference_psf_field=psf_r,
    )
