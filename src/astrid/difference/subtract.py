"""The difference stage: ZOGY on a prepared pair, candidates, measurements and cutouts.

One pure function, `subtract`: a `PreparedPair` in, a `Subtraction` (the ZOGY maps, an
astropy Table with one row per candidate and its cutout triplets) out.

Candidates are the peaks of |S_corr| ≥ threshold (the default detector, ``"scorr"``), or,
with ``detector="unet"``, the peaks of a per-pixel probability map computed from S_corr
and D by a model the caller passes in (`ProbabilityMap`, e.g.
`astrid.detection.unet_detect.UNetDetector`); see docs/models.md for which is better.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
from astropy.table import Table
from astropy.wcs.utils import proj_plane_pixel_scales
from scipy.spatial import cKDTree

from astrid.difference.cutouts import CUTOUT_SIZE, cutout_triplets
from astrid.difference.measure import measure_candidates
from astrid.difference.peaks import Peaks, find_peaks
from astrid.difference.zogy import ZogyConfig, ZogyInputs, ZogyResult, zogy
from astrid.errors import ConfigurationError
from astrid.preprocess.morphology import dilate, open_square
from astrid.preprocess.pair import PreparedPair
from astrid.timing import Stopwatch

__all__ = [
    "CANDIDATE_COLUMNS",
    "DETECTORS",
    "ProbabilityMap",
    "SubtractConfig",
    "Subtraction",
    "choose_tile_size",
    "subtract",
]

DETECTORS = ("scorr", "unet")


class ProbabilityMap(Protocol):
    """A model turning S_corr, D and the mask into a per-pixel probability of a real source."""

    def probability(
        self, score_corr: np.ndarray, difference: np.ndarray, mask: np.ndarray
    ) -> np.ndarray: ...


#: Stable columns of the candidate table (later stages add more after these).
CANDIDATE_COLUMNS = (
    "x",
    "y",
    "ra",
    "dec",
    "sign",
    "scorr",
    "snr",
    "flux",
    "flux_err",
    "mag",
    "mag_err",
    "fwhm",
    "elongation",
    "n_bad_pixels",
    "dist_nearest_ref_source_arcsec",
    "x_err",
    "y_err",
)


@dataclass(frozen=True)
class SubtractConfig:
    """Settings of the difference stage.

    Attributes
    ----------
    zogy : ZogyConfig
        Numerics of ZOGY (its tile size is chosen by `choose_tile_size`).
    tile_sizes : tuple of int
        Small and large ZOGY tile cores; equal values force one.
    psf_tolerance : float
        Largest fractional FWHM change across a large tile for the large tiles to be used.
    threshold : float
        |S_corr| detection threshold.
    merge_radius_fwhm : float
        Peaks closer than this many science FWHM are merged.
    bad_pixel_radius : float
        Radius (pixels) in which masked pixels are counted per candidate.
    cutout_size : int
        Side of the cutout triplets.
    normalize_noise : bool
        Divide S_corr by its robust spread measured on source-free pixels (a no-op, within
        a few per cent, on white noise; corrects frames with shared or correlated noise).
    min_noise_pixels : int
        Source-free pixels needed before that correction is trusted.
    detector : str
        ``"scorr"`` (peaks of |S_corr| ≥ `threshold`) or ``"unet"`` (peaks of the
        probability map ≥ `unet_threshold`; `subtract` then needs the model).
    unet_threshold : float
        Probability threshold of the ``"unet"`` detector.
    """

    zogy: ZogyConfig = field(default_factory=ZogyConfig)
    tile_sizes: tuple[int, int] = (256, 512)
    psf_tolerance: float = 0.03
    threshold: float = 5.0
    merge_radius_fwhm: float = 1.0
    bad_pixel_radius: float = 5.0
    cutout_size: int = CUTOUT_SIZE
    normalize_noise: bool = True
    min_noise_pixels: int = 10_000
    detector: str = "scorr"
    unet_threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise ConfigurationError(
                f"detector must be one of {DETECTORS}, got {self.detector!r}",
                field="detector",
            )


@dataclass(frozen=True, eq=False)
class Subtraction:
    """ZOGY products, the candidate table and its cutout triplets ``(n, 3, size, size)``."""

    zogy: ZogyResult
    candidates: Table
    cutouts: np.ndarray
    stats: dict[str, float]


def _source_free(pair: PreparedPair, fwhm: float) -> np.ndarray:
    """Pixels far from anything bright in either image (for S_corr noise statistics)."""
    busy = (np.abs(pair.science) > 3 * pair.science_sigma) | (
        np.abs(pair.reference) > 3 * pair.reference_sigma
    )
    busy = dilate(open_square(busy), iterations=max(2, int(2 * fwhm)))
    return ~busy & ~pair.mask


def choose_tile_size(pair: PreparedPair, config: SubtractConfig) -> int:
    """The large tile when both PSFs change by less than `psf_tolerance` across it.

    FWHM (noise-equivalent) is compared between points one large tile apart over the
    image; a PSF that varies faster gets the small tiles (twice the FFT work).
    """
    if config.tile_sizes[0] == config.tile_sizes[1]:
        return config.tile_sizes[0]
    small, large = sorted(config.tile_sizes)
    ny, nx = pair.science.shape
    xs = np.arange(large / 2, max(nx - large / 2, large / 2) + 1, large / 2)
    ys = np.arange(large / 2, max(ny - large / 2, large / 2) + 1, large / 2)
    worst = 0.0
    for model in (pair.science_psf, pair.reference_psf):
        grid = np.array([[model.fwhm_at(x, y) for x in xs] for y in ys])
        if grid.size > 1:
            steps = [
                np.abs(np.diff(grid, axis=a)) / grid.mean() for a in (0, 1) if grid.shape[a] > 1
            ]
            # Neighbouring points are half a large tile apart: double for a whole tile.
            worst = max(worst, 2 * max(float(step.max()) for step in steps))
    return large if worst < config.psf_tolerance else small


def _noise_stats(score_corr: np.ndarray, free: np.ndarray) -> dict[str, float]:
    """Mean, median, std and robust (MAD) std of S_corr over source-free pixels."""
    sc = score_corr[free]
    if sc.size == 0:
        nan = float("nan")
        return {
            "scorr_mean": nan,
            "scorr_median": nan,
            "scorr_std": nan,
            "scorr_robust_std": nan,
            "scorr_noise_pixels": 0.0,
        }
    # The selection is float32: the sums accumulate in float64, the medians select.
    median = float(np.median(sc))
    return {
        "scorr_mean": float(np.mean(sc, dtype=np.float64)),
        "scorr_median": median,
        "scorr_std": float(np.std(sc, dtype=np.float64)),
        "scorr_robust_std": float(1.4826 * np.median(np.abs(sc - np.float32(median)))),
        "scorr_noise_pixels": float(sc.size),
    }


def _scaled_noise_stats(raw: dict[str, float], scale: float) -> dict[str, float]:
    """`_noise_stats` of S_corr / ``scale`` from those of S_corr (every statistic but the
    pixel count is linear in S_corr): the source-free pixels are not found twice."""
    return {k: v if k == "scorr_noise_pixels" else v / scale for k, v in raw.items()}


def _local_fwhm(pair: PreparedPair, x: np.ndarray, y: np.ndarray, cell: int = 64) -> np.ndarray:
    """Science PSF FWHM (pixels) at each position, evaluated once per `cell`-pixel cell."""
    cache: dict[tuple[int, int], float] = {}
    out = np.empty(len(x))
    for k, (xk, yk) in enumerate(zip(x, y, strict=True)):
        key = (int(xk // cell), int(yk // cell)) if np.isfinite(xk + yk) else (0, 0)
        if key not in cache:
            cache[key] = pair.science_psf.fwhm_at((key[0] + 0.5) * cell, (key[1] + 0.5) * cell)
        out[k] = cache[key]
    return out


def _probability_peaks(
    prob: np.ndarray,
    score_corr: np.ndarray,
    scorr_peaks: Peaks,
    threshold: float,
    radius: float,
    valid: np.ndarray,
) -> Peaks:
    """Peaks of a probability map, carrying S_corr there (and the dipole flag of a near peak)."""
    found = find_peaks(prob, threshold=threshold, merge_radius=radius, valid=valid)
    keep = found.sign > 0  # a probability has no negative peaks
    x, y = found.x[keep], found.y[keep]
    value = score_corr[y, x].astype(np.float32)
    dipole = np.zeros(len(x), bool)
    if len(scorr_peaks) and len(x):
        dist, idx = cKDTree(np.column_stack([scorr_peaks.x, scorr_peaks.y])).query(
            np.column_stack([x, y]), distance_upper_bound=radius
        )
        near = np.isfinite(dist)
        dipole[near] = scorr_peaks.dipole[idx[near]]
    return Peaks(
        x=x,
        y=y,
        scorr=value,
        sign=np.where(value < 0, -1, 1).astype(found.sign.dtype),
        n_merged=found.n_merged[keep],
        dipole=dipole,
    )


def subtract(
    pair: PreparedPair,
    config: SubtractConfig = SubtractConfig(),
    *,
    model: ProbabilityMap | None = None,
) -> Subtraction:
    """Run ZOGY on a prepared pair and measure the candidates.

    Parameters
    ----------
    pair : PreparedPair
        Output of `astrid.preprocess.pair.prepare_pair`.
    config : SubtractConfig
        Threshold, tiling and measurement settings.
    model : ProbabilityMap, optional
        The probability model of the ``"unet"`` detector (required by it).

    Raises
    ------
    ConfigurationError
        If the ``"unet"`` detector is chosen without a model.

    Returns
    -------
    Subtraction
        The ZOGY maps, one table row per candidate (columns `CANDIDATE_COLUMNS` plus
        ``n_merged``, ``dipole`` and ``psf_fwhm``, the science PSF's FWHM in pixels there),
        cutouts and noise statistics of S_corr.
    """
    if config.detector == "unet" and model is None:
        raise ConfigurationError("the 'unet' detector needs its model (subtract(model=...))")
    watch = Stopwatch()
    err = pair.alignment.local_error
    result = zogy(
        ZogyInputs(
            science=pair.science,
            reference=pair.reference,
            science_var=pair.science_var,
            reference_var=pair.reference_var,
            science_sigma=pair.science_sigma,
            reference_sigma=pair.reference_sigma,
            flux_ratio=pair.flux_ratio.ratio,
            science_psf=pair.science_psf.at,
            reference_psf=pair.reference_psf.at,
            mask=pair.mask,
            astrometric_sigma=err,
        ),
        replace(config.zogy, tile_size=choose_tile_size(pair, config)),
    )
    ny, nx = pair.science.shape
    fwhm = pair.science_psf.fwhm_at(nx / 2, ny / 2)
    raw = _noise_stats(result.score_corr, _source_free(pair, fwhm))
    scale = 1.0
    if config.normalize_noise and raw["scorr_noise_pixels"] >= config.min_noise_pixels:
        # Real frames share or correlate noise (stacks, resampling), which ZOGY's white-noise
        # model cannot know: divide by the measured spread so |S_corr| ≥ 5 means 5σ here.
        scale = float(np.clip(raw["scorr_robust_std"], 0.5, 2.0))
        result = replace(
            result,
            score_corr=(result.score_corr / scale).astype(np.float32),
            flux_err=(result.flux_err * scale).astype(np.float32),
        )
    watch.lap("zogy")
    peaks = find_peaks(
        result.score_corr,
        threshold=config.threshold,
        merge_radius=config.merge_radius_fwhm * fwhm,
        valid=pair.footprint,
    )
    unet_prob: np.ndarray | None = None
    if config.detector == "unet":
        assert model is not None
        prob = model.probability(result.score_corr, result.difference, pair.mask | ~pair.footprint)
        peaks = _probability_peaks(
            prob,
            result.score_corr,
            peaks,
            config.unet_threshold,
            max(config.merge_radius_fwhm * fwhm, 4.0),
            pair.footprint & ~pair.mask,
        )
        unet_prob = prob[peaks.y, peaks.x]
    watch.lap("detect")
    meas = measure_candidates(
        peaks,
        result,
        pair.mask,
        science_psf=pair.science_psf.at,
        bad_pixel_radius=config.bad_pixel_radius,
    )
    watch.lap("photometry")
    wcs = pair.science_image.wcs
    assert wcs is not None  # prepare_pair guarantees it
    ra, dec = wcs.pixel_to_world_values(meas.x, meas.y)
    pixel_scale = float(np.mean(proj_plane_pixel_scales(wcs.celestial)) * 3600.0)
    if len(pair.reference_sources_xy) and len(meas.x):
        dist, _ = cKDTree(pair.reference_sources_xy).query(np.column_stack([meas.x, meas.y]))
        dist_arcsec = dist * pixel_scale
    else:
        dist_arcsec = np.full(len(meas.x), np.nan)
    abs_flux = np.abs(meas.flux)
    with np.errstate(divide="ignore", invalid="ignore"):
        if pair.zero_point is not None:
            mag = np.where(abs_flux > 0, pair.zero_point - 2.5 * np.log10(abs_flux), np.nan)
        else:
            mag = np.full(len(meas.x), np.nan)
        mag_err = np.where(np.isfinite(mag), 1.0857362 * meas.flux_err / abs_flux, np.nan)
    table = Table(
        {
            "x": meas.x,
            "y": meas.y,
            "ra": np.asarray(ra, float),
            "dec": np.asarray(dec, float),
            "sign": peaks.sign,
            "scorr": peaks.scorr,
            "snr": meas.snr,
            "flux": meas.flux,
            "flux_err": meas.flux_err,
            "mag": mag,
            "mag_err": mag_err,
            "fwhm": meas.fwhm,
            "elongation": meas.elongation,
            "n_bad_pixels": meas.n_bad_pixels,
            "dist_nearest_ref_source_arcsec": dist_arcsec,
            "x_err": meas.x_err,
            "y_err": meas.y_err,
            "n_merged": peaks.n_merged,
            "dipole": peaks.dipole,
            "psf_fwhm": _local_fwhm(pair, meas.x, meas.y),
        }
    )
    if unet_prob is not None:
        table["unet_prob"] = unet_prob.astype(np.float32)
    ref_scaled = pair.reference / pair.flux_ratio.ratio
    cutouts = cutout_triplets(
        pair.science, ref_scaled, result.difference, pair.mask, meas.x, meas.y, config.cutout_size
    )
    watch.lap("cutouts")
    stats = {
        **watch.as_stats(),
        **{f"{k}_raw": v for k, v in raw.items()},
        **_scaled_noise_stats(raw, scale),
        "scorr_noise_scale": scale,
        "n_candidates": float(len(table)),
        "n_positive": float((peaks.sign > 0).sum()),
        "n_negative": float((peaks.sign < 0).sum()),
    }
    return Subtraction(zogy=result, candidates=table, cutouts=cutouts, stats=stats)
