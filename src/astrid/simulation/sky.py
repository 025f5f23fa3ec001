"""The static sky both images see: where sources sit, and the stars with their fluxes.

Sources are drawn on the science image and in a margin around it (same density), so that
the shifted reference is filled too. Star fluxes follow a power law with about 1 % of the
stars saturating the science image. Fluxes are science ADU; the reference sees them
multiplied by ``config.reference_flux_scale``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from astrid.simulation.config import SimulationConfig
from astrid.simulation.geometry import PairGeometry
from astrid.simulation.stamps import PointStamps

_SATURATED_FRACTION = 0.01  # wanted fraction of stars that saturate the science image


@dataclass(frozen=True, eq=False)
class FluxScale:
    """Reference fluxes of the science image: a point source at SNR 5, and at saturation."""

    snr5: float
    saturation: float

    @classmethod
    def of(cls, config: SimulationConfig, geometry: PairGeometry) -> FluxScale:
        """From the science PSF at the chip centre."""
        ny, nx = config.shape
        center_psf = geometry.science_psf.stamp((nx - 1) / 2, (ny - 1) / 2, config.psf_size)
        return cls(
            snr5=5.0 * config.science_sigma / math.sqrt(float(np.sum(center_psf**2))),
            saturation=(config.saturation - config.sky_science) / float(center_psf.max()),
        )


def source_margin(config: SimulationConfig) -> float:
    """Pixels around the science image in which sources are drawn too (to fill the reference)."""
    return config.reference_offset_px + 2.0 + config.psf_size


@dataclass(frozen=True, eq=False)
class Stars:
    """Stars in science pixels ``(x, y)`` and reference pixels ``(ref_x, ref_y)``.

    The first ``n_inside`` lie on the science image. ``flux`` is the reference-epoch flux in
    science ADU; the stamps are those the stars were rendered with in each image.
    """

    x: np.ndarray
    y: np.ndarray
    n_inside: int
    ref_x: np.ndarray
    ref_y: np.ndarray
    flux: np.ndarray
    science_stamps: PointStamps
    reference_stamps: PointStamps
    science_peak: np.ndarray
    reference_peak: np.ndarray
    sum_sq: np.ndarray  # sum(P**2) of each science stamp
    saturated: np.ndarray  # saturates either image


def add_stars(
    rng: np.random.Generator,
    config: SimulationConfig,
    geometry: PairGeometry,
    scale: FluxScale,
    model_s: np.ndarray,
    model_r: np.ndarray,
) -> Stars:
    """Draw the stars, add them to both noiseless models and return them."""
    sigma_s, sigma_r = config.science_sigma, config.reference_sigma
    k_ref = config.reference_flux_scale
    psf_size = config.psf_size
    f_snr5, f_sat = scale.snr5, scale.saturation
    sx, sy, n_in = sky_positions(rng, config.n_stars, config.shape, source_margin(config))
    sflux = _power_law_fluxes(rng, len(sx), f_snr5, max(f_sat, 2 * f_snr5), 30.0 * f_sat)
    srx, sry = geometry.to_reference(sx, sy)
    # science stamps are sized for the brightest a variable can get (twice its flux)
    stamps_s = PointStamps.render(
        geometry.science_psf, sx, sy, 2.0 * sflux, psf_size=psf_size, sigma=sigma_s
    )
    stamps_r = PointStamps.render(
        geometry.reference_psf, srx, sry, k_ref * sflux, psf_size=psf_size, sigma=sigma_r
    )
    peak_s, peak_r, sum_p2 = stamps_s.peak(), stamps_r.peak(), stamps_s.sum_sq()
    stamps_s.add_to(model_s, sx, sy, sflux)
    stamps_r.add_to(model_r, srx, sry, k_ref * sflux)
    saturated = (config.sky_science + sflux * peak_s > config.saturation) | (
        config.sky_reference + k_ref * sflux * peak_r > config.saturation
    )
    return Stars(
        x=sx,
        y=sy,
        n_inside=n_in,
        ref_x=srx,
        ref_y=sry,
        flux=sflux,
        science_stamps=stamps_s,
        reference_stamps=stamps_r,
        science_peak=peak_s,
        reference_peak=peak_r,
        sum_sq=sum_p2,
        saturated=saturated,
    )


def sky_positions(
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
