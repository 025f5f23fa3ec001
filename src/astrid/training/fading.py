"""Fading sources: real changes whose difference is negative.

A source present in the reference and gone (or fainter) in the science image — a supernova
fading from its template, a nova after peak, a star that dims — leaves a *negative*
difference. It is as real as a new source, and a classifier that learned "negative on a
star is bogus" throws it away (the shipped model before this recipe rejected ~93 % of real
negative detections of a survey). Training sets therefore carry them as real, of two
kinds: ``fading`` (isolated) and ``fading_on_galaxy`` (within a few pixels of a galaxy's
centre, as a supernova fading on its host).

They are injected into the **reference** image at science positions mapped through both
images' WCS, with the reference PSF and the reference flux scale, so that the difference
has the flux (and nominal SNR) of a science transient of the same SNR, with the opposite
sign. Everything here is pure: images in, images and truth out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from astrid.observations.image import Image
from astrid.preprocess.pair import PreparedPair
from astrid.simulation import SimulatedPair, inject_point_sources, quiet_sky
from astrid.training.labels import FADING_KINDS

__all__ = [
    "FADING_KINDS",
    "Fading",
    "fading_positions",
    "inject_fading",
    "real_fading",
    "simulated_fading",
]


@dataclass(frozen=True, eq=False)
class Fading:
    """A reference with sources that the science image lacks.

    Attributes
    ----------
    reference : Image
        The reference with the sources added.
    truth : Table
        ``kind, x, y, snr`` in science pixels (``kind`` in `FADING_KINDS`).
    """

    reference: Image
    truth: Table


def fading_positions(
    rng: np.random.Generator,
    allowed: np.ndarray,
    n: int,
    *,
    min_separation: float = 25.0,
    edge: int = 40,
) -> np.ndarray:
    """Up to `n` science positions drawn from `allowed` pixels, ≥ `min_separation` apart."""
    where = allowed.copy()
    where[:edge, :] = where[-edge:, :] = False
    where[:, :edge] = where[:, -edge:] = False
    ys, xs = np.nonzero(where)
    chosen: list[tuple[float, float]] = []
    for k in rng.permutation(len(xs))[: 50 * max(n, 1)]:
        x, y = xs[k] + rng.uniform(-0.5, 0.5), ys[k] + rng.uniform(-0.5, 0.5)
        if all((x - a) ** 2 + (y - b) ** 2 >= min_separation**2 for a, b in chosen):
            chosen.append((x, y))
            if len(chosen) == n:
                break
    return np.array(chosen, float).reshape(-1, 2)


def inject_fading(
    reference: Image,
    science: Image,
    positions_xy: np.ndarray,
    kinds: np.ndarray,
    *,
    snr: np.ndarray,
    science_sigma: float,
    science_psf: Callable[[float, float], np.ndarray],
    reference_psf: Callable[[float, float], np.ndarray],
    flux_scale: float,
    seed: int | np.random.Generator,
) -> Fading:
    """Add sources at science positions to the reference so that they fade by `snr`.

    Parameters
    ----------
    reference, science : Image
        The pair; both need a celestial WCS (positions are mapped science → sky →
        reference).
    positions_xy : ndarray
        ``(n, 2)`` science pixels.
    kinds : ndarray of str
        The kind of each (`FADING_KINDS`).
    snr : ndarray
        Matched-filter SNR of each in the science image's noise, as for a science
        transient.
    science_sigma : float
        Background noise of the science image.
    science_psf : callable
        ``psf(x, y)`` of the science image (science pixels): it sets the flux for the SNR.
    reference_psf : callable
        ``psf(x, y)`` of the reference at *reference* pixels: the shape injected.
    flux_scale : float
        Reference units per science unit (F_r).
    seed : int or Generator
        Poisson noise of the added flux.

    Raises
    ------
    ValueError
        If an image has no WCS or the arrays disagree in length.
    """
    xy = np.asarray(positions_xy, float).reshape(-1, 2)
    if reference.wcs is None or science.wcs is None:
        raise ValueError("inject_fading: both images need a WCS to map positions")
    if not (len(xy) == len(kinds) == len(snr)):
        raise ValueError("inject_fading: positions, kinds and snr differ in length")
    truth = Table(
        {
            "kind": np.asarray(kinds, dtype="<U20"),
            "x": xy[:, 0],
            "y": xy[:, 1],
            "snr": np.asarray(snr, float),
        }
    )
    if len(xy) == 0:
        return Fading(reference, truth)
    ra, dec = science.wcs.pixel_to_world_values(xy[:, 0], xy[:, 1])
    rx, ry = reference.wcs.world_to_pixel_values(ra, dec)
    ref_xy = np.column_stack([np.asarray(rx, float), np.asarray(ry, float)])
    norms = np.array([math.sqrt(float(np.sum(science_psf(x, y) ** 2))) for x, y in xy])
    flux = np.asarray(snr, float) * science_sigma / np.maximum(norms, 1e-12) * flux_scale
    ny, nx = reference.shape
    inside = (ref_xy[:, 0] > 8) & (ref_xy[:, 0] < nx - 9) & (ref_xy[:, 1] > 8)
    inside &= ref_xy[:, 1] < ny - 9
    image = inject_point_sources(reference, ref_xy[inside], flux[inside], reference_psf, seed=seed)
    return Fading(image, truth[inside])


def _log_uniform_snr(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.exp(rng.uniform(math.log(3.0), math.log(40.0), n))


def simulated_fading(
    sim: SimulatedPair,
    science: Image,
    rng: np.random.Generator,
    *,
    n_isolated: int,
    n_on_galaxies: int,
) -> Fading:
    """Fading sources for a simulated pair: on empty sky and on galaxies without a transient.

    The reference gets them with its own rendering PSF (`SimulatedPair.reference_psf`) and
    flux scale; SNR 3-40 log-uniform.
    """
    sigma = sim.config.science_sigma
    data = np.asarray(science.data, float)
    quiet = quiet_sky(data - float(np.median(data)), science.mask, sigma)
    isolated = fading_positions(rng, quiet, n_isolated)
    truth = sim.truth
    kind = np.asarray(truth["kind"]).astype(str)
    galaxies = np.column_stack(
        [
            np.asarray(truth["x"], float)[kind == "galaxy"],
            np.asarray(truth["y"], float)[kind == "galaxy"],
        ]
    )
    taken = np.column_stack(
        [
            np.asarray(truth["x"], float)[kind != "galaxy"],
            np.asarray(truth["y"], float)[kind != "galaxy"],
        ]
    )
    ny, nx = science.shape
    hosts: list[tuple[float, float]] = []
    for k in rng.permutation(len(galaxies)):
        gx, gy = galaxies[k]
        r, phi = rng.uniform(0.0, 3.0), rng.uniform(0.0, 2 * math.pi)
        x, y = gx + r * math.cos(phi), gy + r * math.sin(phi)
        if not (40 <= x < nx - 40 and 40 <= y < ny - 40):
            continue
        if len(taken) and np.min(np.hypot(taken[:, 0] - x, taken[:, 1] - y)) < 25.0:
            continue
        if any((x - a) ** 2 + (y - b) ** 2 < 25.0**2 for a, b in hosts):
            continue
        hosts.append((x, y))
        if len(hosts) == n_on_galaxies:
            break
    on_galaxies = np.array(hosts, float).reshape(-1, 2)
    xy = np.vstack([isolated, on_galaxies])
    kinds = np.array([FADING_KINDS[0]] * len(isolated) + [FADING_KINDS[1]] * len(on_galaxies))
    return inject_fading(
        sim.reference,
        science,
        xy,
        kinds,
        snr=_log_uniform_snr(rng, len(xy)),
        science_sigma=sigma,
        science_psf=sim.science_psf,
        reference_psf=sim.reference_psf,
        flux_scale=sim.reference_flux_scale,
        seed=rng,
    )


def real_fading(
    science: Image, reference: Image, plain: PreparedPair, rng: np.random.Generator, n: int
) -> Fading:
    """Isolated fading sources for a real pair, on sky that is quiet in both images.

    The reference PSF injected is the one measured on the aligned reference, evaluated at
    the science position of each reference pixel (the grids of a survey's own pair differ
    by a shift and a small rotation, not in scale).
    """
    quiet = quiet_sky(plain.science, plain.mask, plain.science_sigma)
    quiet &= quiet_sky(plain.reference, plain.mask, plain.reference_sigma)
    xy = fading_positions(rng, quiet, n)
    sci_wcs, ref_wcs = science.wcs, reference.wcs
    if sci_wcs is None or ref_wcs is None:
        raise ValueError("real_fading: both images need a WCS")

    def reference_psf(x: float, y: float) -> np.ndarray:
        ra, dec = ref_wcs.pixel_to_world_values(x, y)
        sx, sy = sci_wcs.world_to_pixel_values(ra, dec)
        return np.asarray(plain.reference_psf.at(float(sx), float(sy)))

    return inject_fading(
        reference,
        science,
        xy,
        np.full(len(xy), FADING_KINDS[0]),
        snr=_log_uniform_snr(rng, len(xy)),
        science_sigma=plain.science_sigma,
        science_psf=plain.science_psf.at,
        reference_psf=reference_psf,
        flux_scale=plain.flux_ratio.ratio,
        seed=rng,
    )
