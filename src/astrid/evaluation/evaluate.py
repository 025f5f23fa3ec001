"""Injection–recovery evaluation of the pipeline on one real (or simulated) image pair.

`evaluate_pair` measures the science image's PSF, injects fake point sources with it over
a range of SNR (hence magnitudes) on empty sky and on galaxies, avoiding masked and
saturated areas, runs preprocess + difference on the result and scores the candidates
against the fakes with the reference scorer's definitions. It also runs the plain pair
so the false candidates of the frame are counted without any fakes. Given a real/bogus
model (`astrid.detection.realbogus.RealBogusModel`), completeness and false candidates are
also reported after its cut (``rb`` above the model's operating threshold). Pure: images
and a model in, a result dataclass out; the CLI writes files and plots.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table, vstack
from astropy.wcs.utils import proj_plane_pixel_scales
from scipy import ndimage
from scipy.stats import norm

from astrid.detection.realbogus import RealBogusModel
from astrid.difference.subtract import ProbabilityMap, SubtractConfig, Subtraction, subtract
from astrid.evaluation.scoring import SNR_BINS, match_to_truth
from astrid.observations.image import Image
from astrid.preprocess.pair import PrepareConfig, prepare_pair
from astrid.simulation import inject_fakes, quiet_sky

__all__ = ["EvaluationConfig", "EvaluationResult", "completeness_magnitude", "evaluate_pair"]


@dataclass(frozen=True)
class EvaluationConfig:
    """How many fakes, where and how bright.

    Attributes
    ----------
    n_fakes : int
        Fakes per evaluation (split into rounds of at most `per_round`).
    snr_range : tuple of float
        Matched-filter SNR range (log-uniform) on the science background noise.
    on_galaxy_fraction : float
        Fraction of fakes placed on extended sources (galaxies) instead of empty sky.
    per_round : int
        Fakes injected at once; more rounds keep them from crowding each other.
    seed : int
        Random seed (the evaluation is deterministic given it).
    """

    n_fakes: int = 500
    snr_range: tuple[float, float] = (3.0, 40.0)
    on_galaxy_fraction: float = 0.2
    per_round: int = 250
    seed: int = 0
    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    subtract: SubtractConfig = field(default_factory=SubtractConfig)


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Fakes with their recovery, and the summary figures.

    Attributes
    ----------
    fakes : Table
        One row per fake: kind, ra, dec, x, y, flux, snr, mag, found, and for recovered
        ones the measured flux, position and S_corr.
    summary : dict
        Completeness, optimum, efficiency, 50 % / 90 % completeness magnitudes, false
        candidates per frame and per square degree, flux and astrometric residuals.
    """

    fakes: Table
    summary: dict[str, Any]
    stats: dict[str, float]


def _galaxy_pixels(
    data: np.ndarray, mask: np.ndarray, sigma: float, star_xy: np.ndarray
) -> np.ndarray:
    """Pixels inside extended sources: above 3σ, in blobs of ≥ 60 pixels, away from stars."""
    bright = ndimage.binary_opening(data > 3 * sigma, iterations=1) & ~mask
    labels, n = ndimage.label(bright)
    if n == 0:
        return np.zeros_like(bright)
    sizes = ndimage.sum_labels(bright, labels, index=np.arange(1, n + 1))
    big = np.zeros(n + 1, bool)
    big[1:] = sizes >= 60
    region = big[labels]
    # Not the cores of stars, not saturated neighbourhoods.
    near_star = np.zeros_like(region)
    yy, xx = np.round(star_xy[:, 1]).astype(int), np.round(star_xy[:, 0]).astype(int)
    ok = (yy >= 0) & (yy < data.shape[0]) & (xx >= 0) & (xx < data.shape[1])
    near_star[yy[ok], xx[ok]] = True
    near_star = ndimage.binary_dilation(near_star, iterations=8)
    grown_mask = ndimage.binary_dilation(mask, iterations=10)
    return region & ~near_star & ~grown_mask & (data < 50 * sigma)


def completeness_magnitude(mag: np.ndarray, found: np.ndarray, level: float) -> float:
    """Faintest magnitude at which binned completeness is still ≥ `level` (interpolated)."""
    finite = np.isfinite(mag)
    if finite.sum() < 10:
        return float("nan")
    edges = np.quantile(mag[finite], np.linspace(0, 1, min(12, finite.sum() // 10) + 1))
    centres, comp = [], []
    for lo, hi in itertools.pairwise(edges):
        m = finite & (mag >= lo) & (mag <= hi)
        if m.any():
            centres.append(0.5 * (lo + hi))
            comp.append(found[m].mean())
    centres_a, comp_a = np.asarray(centres), np.asarray(comp)
    above = np.flatnonzero(comp_a >= level)
    if len(above) == 0:
        return float("nan")
    k = above[-1]
    if k == len(comp_a) - 1:
        return float(centres_a[k])
    # Linear interpolation between the last bin above and the next one below.
    c0, c1 = comp_a[k], comp_a[k + 1]
    m0, m1 = centres_a[k], centres_a[k + 1]
    return float(m0 + (c0 - level) / (c0 - c1) * (m1 - m0)) if c0 != c1 else float(m0)


def _rb(model: RealBogusModel | None, result: Subtraction) -> np.ndarray | None:
    if model is None:
        return None
    return model.score(result.candidates, result.cutouts).rb


def evaluate_pair(
    science: Image,
    reference: Image,
    config: EvaluationConfig = EvaluationConfig(),
    *,
    model: RealBogusModel | None = None,
    detector_model: ProbabilityMap | None = None,
) -> EvaluationResult:
    """Inject fakes into `science`, run the pipeline, and score the recovery.

    Parameters
    ----------
    science, reference : Image
        The pair as read from disk.
    config : EvaluationConfig
        Number, brightness and placement of the fakes.
    model : RealBogusModel, optional
        Real/bogus model: adds ``rb`` of each recovered fake, ``found_after_rb`` and the
        summary figures after its cut (threshold: the model card's operating point).
    detector_model : ProbabilityMap, optional
        The U-Net of the ``"unet"`` detector (required when ``config.subtract`` picks it).

    Returns
    -------
    EvaluationResult
        The fakes table and summary numbers.
    """
    plain_pair = prepare_pair(science, reference, config.prepare)
    plain = subtract(plain_pair, config.subtract, model=detector_model)
    plain_rb = _rb(model, plain)
    sigma = plain_pair.science_sigma
    psf = plain_pair.science_psf
    zero_point = plain_pair.zero_point
    wcs = science.wcs
    assert wcs is not None  # prepare_pair checked it
    # Fakes must not land on what the plain run already finds.
    occupied = np.zeros(science.shape, bool)
    if len(plain.candidates):
        cx = np.clip(np.round(plain.candidates["x"]).astype(int), 0, science.shape[1] - 1)
        cy = np.clip(np.round(plain.candidates["y"]).astype(int), 0, science.shape[0] - 1)
        occupied[cy, cx] = True
        occupied = ndimage.binary_dilation(occupied, iterations=10)
    quiet = quiet_sky(plain_pair.science, plain_pair.mask, sigma) & ~occupied
    stars = plain_pair.reference_sources_xy
    galaxies = _galaxy_pixels(plain_pair.science, plain_pair.mask, sigma, stars) & ~occupied

    rounds: list[Table] = []
    n_left = config.n_fakes
    round_no = 0
    stats: dict[str, float] = {}
    while n_left > 0:
        n = min(config.per_round, n_left)
        n_gal = int(round(n * config.on_galaxy_fraction)) if galaxies.any() else 0
        seed = config.seed * 1000 + round_no
        truths = []
        image = science
        for kind, where, count in (
            ("transient", quiet, n - n_gal),
            ("transient_on_galaxy", galaxies, n_gal),
        ):
            if count <= 0:
                continue
            inj = inject_fakes(
                image,
                plain_pair.science,
                sigma,
                psf,
                n=count,
                snr_range=config.snr_range,
                allowed=where,
                seed=seed + (0 if kind == "transient" else 500),
            )
            image = inj.image
            truth = inj.truth
            truth.replace_column("kind", np.full(len(truth), kind, dtype="U32"))
            truths.append(truth)
        truth = vstack(truths) if truths else Table()
        fake_pair = prepare_pair(image, reference, config.prepare)
        result = subtract(fake_pair, config.subtract, model=detector_model)
        score = match_to_truth(truth, result.candidates)
        found = np.asarray(score["found"], bool)
        truth["found"] = found
        cand = result.candidates
        cand_rb = _rb(model, result)
        truth["rb"] = np.full(len(truth), np.nan)
        truth["scorr"] = np.full(len(truth), np.nan)
        for col in ("x_measured", "y_measured", "flux_measured", "flux_err_measured"):
            truth[col] = np.full(len(truth), np.nan)
        if len(cand) and found.any():
            tc = SkyCoord(np.asarray(truth["ra"]) * u.deg, np.asarray(truth["dec"]) * u.deg)
            cc = SkyCoord(np.asarray(cand["ra"]) * u.deg, np.asarray(cand["dec"]) * u.deg)
            idx, _, _ = tc.match_to_catalog_sky(cc)
            sel = np.flatnonzero(found)
            truth["scorr"][sel] = cand["scorr"][idx[sel]]
            truth["x_measured"][sel] = cand["x"][idx[sel]]
            truth["y_measured"][sel] = cand["y"][idx[sel]]
            truth["flux_measured"][sel] = cand["flux"][idx[sel]]
            truth["flux_err_measured"][sel] = cand["flux_err"][idx[sel]]
            if cand_rb is not None:
                truth["rb"][sel] = cand_rb[idx[sel]]
        truth["round"] = round_no
        rounds.append(truth)
        stats = {**fake_pair.stats, **result.stats}
        n_left -= n
        round_no += 1

    fakes = vstack(rounds) if rounds else Table()
    zp = zero_point if zero_point is not None else 0.0
    fakes["mag"] = zp - 2.5 * np.log10(np.asarray(fakes["flux"], float))
    summary = _summary(fakes, plain, plain_pair, science, zero_point is not None)
    if model is not None and plain_rb is not None:
        summary.update(_after_cut(fakes, plain_rb, model, summary))
    else:
        fakes.remove_column("rb")
    return EvaluationResult(fakes=fakes, summary=summary, stats=stats)


def _after_cut(
    fakes: Table, plain_rb: np.ndarray, model: RealBogusModel, summary: dict[str, Any]
) -> dict[str, Any]:
    """Completeness and false candidates after ``rb > threshold`` (the card's operating point)."""
    threshold = float(model.card.get("operating_threshold") or 0.5)
    kept = np.asarray(fakes["found"], bool) & (np.nan_to_num(np.asarray(fakes["rb"])) > threshold)
    fakes["found_after_rb"] = kept
    snr = np.asarray(fakes["snr"], float)
    optimum = norm.cdf(snr - 5.0)
    n_false = int(np.sum(plain_rb > threshold))
    per_frame = summary["false_candidates_per_frame"]
    per_deg2 = summary["false_candidates_per_deg2"]
    return {
        "rb_model": model.version,
        "rb_threshold": threshold,
        "completeness_after_rb": float(kept.mean()) if len(kept) else float("nan"),
        "efficiency_vs_optimum_after_rb": float(kept.mean() / optimum.mean())
        if len(kept)
        else float("nan"),
        "completeness_after_rb_snr_ge_8": float(kept[snr >= 8].mean())
        if (snr >= 8).any()
        else float("nan"),
        "false_candidates_per_frame_after_rb": n_false,
        "false_candidates_per_deg2_after_rb": per_deg2 * n_false / per_frame if per_frame else 0.0,
    }


def _summary(
    fakes: Table, plain: Any, plain_pair: Any, science: Image, calibrated: bool
) -> dict[str, Any]:
    snr = np.asarray(fakes["snr"], float)
    found = np.asarray(fakes["found"], bool)
    mag = np.asarray(fakes["mag"], float)
    wcs = science.wcs
    assert wcs is not None
    scale = proj_plane_pixel_scales(wcs.celestial)
    area_deg2 = float(science.shape[0] * science.shape[1] * scale[0] * scale[1])
    footprint = float(plain_pair.footprint.mean())
    n_plain = len(plain.candidates)
    optimum = norm.cdf(snr - 5.0)
    bright = found & (snr >= 20)
    summary: dict[str, Any] = {
        "n_fakes": len(fakes),
        "n_on_galaxies": int(np.sum(np.asarray(fakes["kind"]) == "transient_on_galaxy")),
        "completeness": float(found.mean()) if len(found) else float("nan"),
        "optimum": float(optimum.mean()) if len(found) else float("nan"),
        "efficiency_vs_optimum": float(found.mean() / optimum.mean())
        if len(found)
        else float("nan"),
        "magnitudes": "calibrated" if calibrated else "instrumental (no zero point)",
        "mag_50": completeness_magnitude(mag, found, 0.5),
        "mag_90": completeness_magnitude(mag, found, 0.9),
        "false_candidates_per_frame": n_plain,
        "false_candidates_per_deg2": n_plain / (area_deg2 * footprint)
        if area_deg2 > 0
        else float("nan"),
        "false_candidates_note": "all candidates of the pair without fakes (real changes included)",
        "frame_area_deg2": area_deg2 * footprint,
        "scorr_noise_scale": plain.stats.get("scorr_noise_scale", float("nan")),
    }
    if bright.any():
        ratio = np.asarray(fakes["flux_measured"])[bright] / np.asarray(fakes["flux"])[bright]
        dx = np.asarray(fakes["x_measured"])[bright] - np.asarray(fakes["x"])[bright]
        dy = np.asarray(fakes["y_measured"])[bright] - np.asarray(fakes["y"])[bright]
        pix = float(np.sqrt(scale[0] * scale[1]) * 3600.0)
        summary.update(
            flux_ratio_median_snr_ge_20=float(np.median(ratio)),
            flux_ratio_mad_snr_ge_20=float(np.median(np.abs(ratio - np.median(ratio)))),
            astrometry_rms_arcsec_snr_ge_20=float(np.sqrt(np.mean(dx**2 + dy**2)) * pix),
            astrometry_bias_px_snr_ge_20=[float(np.mean(dx)), float(np.mean(dy))],
        )
    bins = []
    for lo, hi in itertools.pairwise(SNR_BINS):
        m = (snr >= lo) & (snr < hi)
        if m.any():
            bins.append(
                {
                    "snr": f"{lo}-{hi}",
                    "n": int(m.sum()),
                    "completeness": float(found[m].mean()),
                    "optimum": float(optimum[m].mean()),
                }
            )
    summary["completeness_by_snr"] = bins
    # Φ(SNR − 5) counts sky noise only: on a galaxy the host's own photon noise (in both
    # images) lowers the reachable SNR, so on-galaxy efficiency is an upper-bound comparison.
    kinds = np.asarray(fakes["kind"])
    summary["by_kind"] = {
        str(kind): {
            "n": int(m.sum()),
            "completeness": float(found[m].mean()),
            "optimum": float(optimum[m].mean()),
            "efficiency_vs_optimum": float(found[m].mean() / optimum[m].mean()),
            "completeness_snr_ge_8": float(found[m & (snr >= 8)].mean())
            if (m & (snr >= 8)).any()
            else float("nan"),
        }
        for kind in np.unique(kinds)
        for m in [kinds == kind]
    }
    return summary
