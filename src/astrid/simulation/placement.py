"""Where the transients go: on empty sky or on a galaxy, clear of everything they must avoid.

A transient keeps `EDGE_MARGIN` pixels from the image edge, 20 pixels from other transients,
clear of bleed trails, of star wings (farther from brighter stars) and of other galaxies, so
that each one is an isolated, measurable point source. Positions are science pixels
``(x, y)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from astrid.errors import ConfigurationError
from astrid.simulation.config import EDGE_MARGIN, SimulationConfig
from astrid.simulation.psf_field import MoffatPSFField
from astrid.simulation.stamps import add_stamps, nearest_pixel

_TRANSIENT_SEPARATION = 20.0  # px between two transients


@dataclass(frozen=True, eq=False)
class Transients:
    """Transients placed and rendered: positions, host galaxy index (-1: none), SNR, flux."""

    x: np.ndarray
    y: np.ndarray
    host: np.ndarray
    snr: np.ndarray
    flux: np.ndarray  # science ADU


def add_transients(
    rng: np.random.Generator,
    config: SimulationConfig,
    blockers: Blockers,
    n_hosts: int,
    model_s: np.ndarray,
) -> Transients:
    """Draw, place and render the transients on the science model (flux from the SNR).

    The SNR is drawn log-uniformly from ``config.snr_range``; hosts are chosen among the
    first ``n_hosts`` galaxies (those on the image).
    """
    n_tr = config.n_transients + config.n_transients_on_galaxies
    lo, hi = config.snr_range
    t_snr = np.exp(rng.uniform(math.log(lo), math.log(hi), size=n_tr))
    host_order = rng.permutation(np.arange(n_hosts))
    tx, ty, t_host = place_transients(
        rng, blockers, t_snr, config.n_transients_on_galaxies, host_order
    )
    t_stamps = blockers.psf.render(tx, ty, config.psf_size)
    t_flux = t_snr * blockers.sigma / np.sqrt(np.sum(t_stamps**2, axis=(1, 2)))
    add_stamps(model_s, t_stamps, nearest_pixel(tx), nearest_pixel(ty), t_flux)
    return Transients(x=tx, y=ty, host=t_host, snr=t_snr, flux=t_flux)


def total_noise_snr(
    transients: Transients,
    config: SimulationConfig,
    psfs: tuple[MoffatPSFField, MoffatPSFField],
    model_s: np.ndarray,
    model_r: np.ndarray,
    reference_xy: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Each transient's matched-filter S/N against all the noise at its place.

    ``snr`` counts the science image's sky and read noise only. Here the variance of each
    pixel under the transient's PSF is that of both noiseless models without the transient
    (the noise a detection is judged against): sky, the static sky's photons (a host galaxy,
    a neighbouring star) and read noise, the reference's divided by
    ``reference_flux_scale²`` into science units: ``S/N² = F² Σ P² / (V_s + V_r / k²)``
    with ``P`` the science PSF; on empty sky that is ``snr / sqrt(1 + 1/reference_depth²)``.
    It weights the reference's noise by the science PSF, but where the reference's PSF is
    sharper a proper difference does better: on white noise the optimal S/N is
    ``F² Σ_k |P̂_n|² |P̂_r|² / (σ_n² |P̂_r|² + σ_r² |P̂_n|²)`` (Zackay, Ofek & Gal-Yam 2016).
    Each transient's S/N is multiplied by the ratio of that optimum to the formula above on
    empty sky, from the two PSFs at its place (1.2-1.4 % with the default PSFs), so that on
    empty sky it is ZOGY's optimum.

    ``psfs`` are the science and reference PSF fields, ``reference_xy`` the transients'
    reference pixels.
    """
    half = config.psf_size // 2
    stamps = psfs[0].render(transients.x, transients.y, config.psf_size)
    gain = _sharper_reference_gain(
        psfs[0].render(transients.x, transients.y, config.psf_size, subpixel=False),
        psfs[1].render(*reference_xy, config.psf_size, subpixel=False),
        1.0 / config.reference_depth**2,
    )
    read = (config.read_noise / config.gain) ** 2
    k2 = config.reference_flux_scale**2
    out = np.empty(len(transients.x))
    centres = zip(
        nearest_pixel(transients.x),
        nearest_pixel(transients.y),
        nearest_pixel(reference_xy[0]),
        nearest_pixel(reference_xy[1]),
        strict=True,
    )
    for i, (xs, ys, xr, yr) in enumerate(centres):
        static = _window(model_s, xs, ys, half) - transients.flux[i] * stamps[i]
        var_s = static / config.gain + read
        var_r = _window(model_r, xr, yr, half) / config.gain + read
        out[i] = transients.flux[i] * math.sqrt(
            float(np.sum(stamps[i] ** 2 / (var_s + var_r / k2)))
        )
    return out * gain


def _sharper_reference_gain(science: np.ndarray, reference: np.ndarray, ratio: float) -> np.ndarray:
    """ZOGY's optimal S/N on white noise over ``F sqrt(Σ P_n² / (σ_n² + σ_r²))``, per pair of
    ``(n, size, size)`` PSF stamps; ``ratio`` is ``σ_r² / σ_n²`` (science units)."""
    pn = np.abs(np.fft.rfft2(science)) ** 2
    pr = np.abs(np.fft.rfft2(reference)) ** 2
    # rfft2 keeps half the plane: weight the columns that stand for two (not 0, not Nyquist)
    weight = np.full(pn.shape[-1], 2.0)
    weight[0] = 1.0
    if science.shape[-1] % 2 == 0:
        weight[-1] = 1.0
    optimum = np.sum(weight * pn * pr / (pr + ratio * pn), axis=(1, 2))
    formula = np.sum(weight * pn, axis=(1, 2)) / (1.0 + ratio)
    return np.sqrt(optimum / formula)


def _window(image: np.ndarray, xc: int, yc: int, half: int) -> np.ndarray:
    """The ``2 half + 1`` square of ``image`` around ``(xc, yc)``, edge pixels repeated."""
    ny, nx = image.shape
    rows = np.clip(np.arange(yc - half, yc + half + 1), 0, ny - 1)
    cols = np.clip(np.arange(xc - half, xc + half + 1), 0, nx - 1)
    return image[np.ix_(rows, cols)]


@dataclass
class Blockers:
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
            EDGE_MARGIN <= x <= nx - 1 - EDGE_MARGIN and EDGE_MARGIN <= y <= ny - 1 - EDGE_MARGIN
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


def place_transients(
    rng: np.random.Generator,
    blockers: Blockers,
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
            where="galaxies",
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
                where="isolated",
            )
        x = rng.uniform(EDGE_MARGIN, nx - 1 - EDGE_MARGIN)
        y = rng.uniform(EDGE_MARGIN, ny - 1 - EDGE_MARGIN)
        if blockers.allowed(x, y, blockers.flux_estimate(x, y, snr[k])):
            xs[k], ys[k] = x, y
            blockers.placed.append((x, y))
            k += 1
            misses = 0
        else:
            misses += 1
    return xs, ys, hosts


def clear_of(xy: np.ndarray, avoid: cKDTree | None, radius: float) -> np.ndarray:
    """Whether each position is at least ``radius`` from every point of ``avoid``."""
    if avoid is None or len(xy) == 0:
        return np.ones(len(xy), dtype=bool)
    d, _ = avoid.query(xy)
    return np.asarray(d >= radius)
