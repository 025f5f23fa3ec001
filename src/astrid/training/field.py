"""The labelled candidates of one unit of a training set (a simulated field or a real pair).

- **real**: point sources injected into science images with their own PSF (isolated, on
  galaxies, next to stars, SNR 3-40) and the simulator's variable stars, run through the
  same preprocess and difference stages as any frame;
- **bogus**: what those stages really produce where nothing real is: noise peaks and star
  residuals of the plain pair, and the artifacts a detector and a pipeline add, each
  named (`astrid.training.labels`): cosmic rays, hot pixels, bad columns and satellite
  trails that slipped past the masks (a "unmasked" run, as when a frame's masks fail),
  saturated-star residuals and bleed trails, misregistration dipoles and PSF-mismatch
  rings (`astrid.training.perturb`).

Real also includes sources that faded: present in the reference, gone from the science
image (`astrid.training.fading`), isolated and on galaxies, so negative differences of
real changes are learned as real.

In a real pair, injected fakes (new and fading) are the real class and only candidates on
known stars (or on added artifacts) are labelled bogus: the other candidates of a real
pair may be real changes, so they are left out rather than guessed. A real pair is split
by position (rows below 60 % of its height train, 60-70 % validate, the rest test).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from astropy.table import Table, vstack
from scipy import ndimage

from astrid.detection.features import normalise_cutouts, scalar_features
from astrid.difference.subtract import SubtractConfig, Subtraction, subtract
from astrid.errors import AlignmentError, ConfigurationError, PSFError
from astrid.observations.fits_reader import read_image
from astrid.observations.image import Image
from astrid.preprocess.masks import MaskConfig
from astrid.preprocess.pair import PrepareConfig, PreparedPair, prepare_pair
from astrid.simulation import (
    ArtifactConfig,
    SimulationConfig,
    add_artifacts,
    inject_fakes,
    inject_point_sources,
    quiet_sky,
    simulate_pair,
)
from astrid.training.fading import real_fading, simulated_fading
from astrid.training.labels import FADING_KINDS, REAL_KINDS, KnownSources, label_candidates
from astrid.training.perturb import mismatch_psf, misregister
from astrid.training.recipe import FieldSpec, TrainingSetConfig

__all__ = ["build_field"]

_UNMASKED = MaskConfig(cosmic_rays=False, bad_columns=False, saturation_fraction=1e6)
log = logging.getLogger(__name__)
# Real pairs: rows below these fractions of the height go to train, then val, then test.
_REAL_SPLIT = (0.6, 0.7)


@dataclass
class _Samples:
    """Candidates of one field as arrays (concatenated over runs).

    At most `cap` bogus candidates of one kind are kept per run (a random subset): a
    bright satellite trail alone makes hundreds of peaks, which would swamp the set.
    """

    rng: np.random.Generator
    cap: int
    parts: list[dict[str, np.ndarray]] = field(default_factory=list)

    def add(
        self,
        result: Subtraction,
        kinds: np.ndarray,
        variant: str,
        split: np.ndarray,
        snr_true: np.ndarray,
        keep: np.ndarray | None = None,
    ) -> None:
        cand = result.candidates
        sel = np.ones(len(cand), bool) if keep is None else keep.copy()
        real = np.isin(kinds, REAL_KINDS)
        for kind in np.unique(kinds[sel & ~real]):
            where = np.flatnonzero(sel & (kinds == kind))
            if len(where) > self.cap:
                drop = self.rng.choice(where, len(where) - self.cap, replace=False)
                sel[drop] = False
        if not sel.any():
            return
        idx = np.flatnonzero(sel)
        self.parts.append(
            {
                "cutouts": normalise_cutouts(result.cutouts[idx]).astype(np.float16),
                "scalars": scalar_features(cand[idx]),
                "kind": kinds[idx].astype("<U24"),
                "label": np.isin(kinds[idx], REAL_KINDS).astype(np.int8),
                "variant": np.full(len(idx), variant, dtype="<U10"),
                "split": split[idx].astype("<U5"),
                "snr_true": snr_true[idx].astype(np.float32),
                "scorr": np.asarray(cand["scorr"], np.float32)[idx],
                "x": np.asarray(cand["x"], np.float32)[idx],
                "y": np.asarray(cand["y"], np.float32)[idx],
            }
        )

    def arrays(self) -> dict[str, np.ndarray]:
        if not self.parts:
            return {}
        return {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}


def _true_snr(x: np.ndarray, y: np.ndarray, truth: Table, radius: float = 3.0) -> np.ndarray:
    """SNR of the real truth row within `radius` of each candidate (NaN if none)."""
    from scipy.spatial import cKDTree

    out = np.full(len(x), np.nan)
    kind = np.asarray(truth["kind"]).astype(str)
    real = truth[np.isin(kind, REAL_KINDS)]
    if len(real) == 0 or len(x) == 0:
        return out
    tree = cKDTree(np.column_stack([np.asarray(real["x"], float), np.asarray(real["y"], float)]))
    dist, idx = tree.query(np.column_stack([x, y]), distance_upper_bound=radius)
    ok = np.isfinite(dist)
    out[ok] = np.abs(np.asarray(real["snr"], float)[idx[ok]])
    return out


def _subtract_config() -> SubtractConfig:
    base = SubtractConfig()
    return replace(base, zogy=replace(base.zogy, workers=1))


def _near_star_positions(
    rng: np.random.Generator,
    stars_xy: np.ndarray,
    shape: tuple[int, int],
    n: int,
    *,
    edge: int = 40,
    blocked: np.ndarray | None = None,
) -> np.ndarray:
    """Up to `n` positions 4-10 px from stars, ≥ 25 px apart, away from `blocked` pixels."""
    ny, nx = shape
    out: list[tuple[float, float]] = []
    for k in rng.permutation(len(stars_xy)):
        r, phi = rng.uniform(4.0, 10.0), rng.uniform(0, 2 * math.pi)
        x, y = stars_xy[k, 0] + r * math.cos(phi), stars_xy[k, 1] + r * math.sin(phi)
        if not (edge <= x < nx - edge and edge <= y < ny - edge):
            continue
        if blocked is not None and blocked[int(round(y)), int(round(x))]:
            continue
        if all((x - a) ** 2 + (y - b) ** 2 >= 25.0**2 for a, b in out):
            out.append((x, y))
            if len(out) == n:
                break
    return np.array(out, float).reshape(-1, 2)


def _run_variants(
    spec: FieldSpec,
    plain: PreparedPair,
    variants: Sequence[str],
    on_result: Callable[[str, Subtraction, PreparedPair], None],
) -> None:
    """The plain run and each failure variant of one pair."""
    config = _subtract_config()
    p = spec.params
    on_result("plain", subtract(plain, config), plain)
    if "dipole" in variants:
        shift = (
            p["dipole_shift"] * math.cos(p["dipole_angle"]),
            p["dipole_shift"] * math.sin(p["dipole_angle"]),
        )
        pair = misregister(plain, shift)
        on_result("dipole", subtract(pair, config), pair)
    if "psf_ring" in variants:
        pair = mismatch_psf(plain, which=p["psf_which"], change=p["psf_change"])
        on_result("psf_ring", subtract(pair, config), pair)


def _simulated_field(spec: FieldSpec, config: TrainingSetConfig) -> dict[str, np.ndarray]:
    p = spec.params
    rng = np.random.default_rng(spec.seed)
    # Counts are for 1024² and scale with the area (smaller fields in quick builds).
    area = config.shape[0] * config.shape[1] / 1024**2

    def n(count: int) -> int:
        return count if area == 1 else max(1, round(count * area))

    sim_config = SimulationConfig(
        shape=config.shape,
        science_fwhm=tuple(p["science_fwhm"]),
        reference_fwhm=tuple(p["reference_fwhm"]),
        moffat_beta=p["moffat_beta"],
        ellipticity=p["ellipticity"],
        reference_depth=p["reference_depth"],
        n_stars=n(p["n_stars"]),
        n_galaxies=n(p["n_galaxies"]),
        n_transients=n(100),
        n_transients_on_galaxies=n(30),
        n_variables=n(20),
        n_cosmic_rays=n(60),
        n_hot_pixels=n(40),
        n_bad_columns=n(3),
        n_satellite_trails=2,
        trail_sigma=(1.0, 6.0),
    )
    while True:
        try:
            sim = simulate_pair(sim_config, seed=spec.seed)
            break
        except ConfigurationError as e:
            sim_config = _fewer_transients(sim_config, e)
    truth = sim.truth
    # Transients next to stars: bright but unsaturated stars, the simulator's own PSF.
    kind = np.asarray(truth["kind"]).astype(str)
    stars = truth[(kind == "star") & (np.asarray(truth["snr"], float) > 30)]
    stars_xy = np.column_stack([np.asarray(stars["x"], float), np.asarray(stars["y"], float)])
    near = _near_star_positions(rng, stars_xy, config.shape, n(30))
    snr = np.exp(rng.uniform(math.log(3.0), math.log(40.0), len(near)))
    sigma = sim_config.science_sigma
    norms = np.array([math.sqrt(float(np.sum(sim.science_psf(x, y) ** 2))) for x, y in near])
    flux = snr * sigma / np.maximum(norms, 1e-12)
    science = inject_point_sources(sim.science, near, flux, sim.science_psf, seed=rng)
    extra = Table(
        {
            "kind": np.full(len(near), "transient_near_star", dtype="<U20"),
            "x": near[:, 0],
            "y": near[:, 1],
            "snr": snr,
        }
    )
    reference = sim.reference
    parts = [truth[["kind", "x", "y", "snr", "length", "angle"]], extra]
    if config.fading:
        fading = simulated_fading(sim, science, rng, n_isolated=n(40), n_on_galaxies=n(15))
        reference = fading.reference
        parts.append(fading.truth)
    truth = vstack(parts)
    known = KnownSources(truth)
    samples = _Samples(np.random.default_rng([spec.seed, 1]), config.bogus_cap)
    maps: dict[str, np.ndarray] = {}

    def record(variant: str, result: Subtraction, pair: PreparedPair) -> None:
        cand = result.candidates
        x, y = np.asarray(cand["x"], float), np.asarray(cand["y"], float)
        label_variant = variant if variant in ("dipole", "psf_ring") else "plain"
        kinds = label_candidates(x, y, known, variant=label_variant)
        samples.add(result, kinds, variant, np.full(len(cand), spec.split), _true_snr(x, y, truth))
        if variant == "plain" and config.keep_maps:
            maps["score_corr"] = result.zogy.score_corr.astype(np.float16)
            maps["difference"] = np.clip(result.zogy.difference, -6e4, 6e4).astype(np.float16)
            maps["mask"] = pair.mask | ~pair.footprint

    plain = prepare_pair(science, reference, PrepareConfig())
    _run_variants(spec, plain, config.variants, record)
    if "unmasked" in config.variants:
        pair = prepare_pair(science, reference, PrepareConfig(masks=_UNMASKED))
        record("unmasked", subtract(pair, _subtract_config()), pair)
    out = samples.arrays()
    if maps:
        # The U-Net's targets stay the positive changes it detects in S_corr.
        positive = [k for k in REAL_KINDS if k not in FADING_KINDS]
        real = truth[np.isin(np.asarray(truth["kind"]).astype(str), positive)]
        out.update({f"map_{k}": v for k, v in maps.items()})
        out["map_truth_xy"] = np.column_stack(
            [np.asarray(real["x"], float), np.asarray(real["y"], float)]
        ).astype(np.float32)
        out["map_truth_snr"] = np.abs(np.asarray(real["snr"], np.float32))
    return out


def _saturated_xy(image: Image) -> np.ndarray:
    """Centres of saturated blobs (at or above 95 % of the saturation level)."""
    level = image.meta.saturation
    if not np.isfinite(level):
        return np.empty((0, 2))
    labels, n = ndimage.label(image.data >= 0.95 * level)
    if n == 0:
        return np.empty((0, 2))
    centres = ndimage.center_of_mass(np.ones_like(labels), labels, index=np.arange(1, n + 1))
    return np.array([(c[1], c[0]) for c in centres], float).reshape(-1, 2)


def _split_by_position(y: np.ndarray, ny: int) -> np.ndarray:
    frac = np.asarray(y, float) / ny
    return np.where(frac < _REAL_SPLIT[0], "train", np.where(frac < _REAL_SPLIT[1], "val", "test"))


def _known_only(kinds: np.ndarray) -> np.ndarray:
    """Candidates of a real pair on something known: off it, one may be a real change."""
    return kinds != "noise"


def real_pair_scale(shape: tuple[int, ...], config: TrainingSetConfig) -> tuple[int, int]:
    """Fakes per round for a real pair of this size, and by how much to multiply the rounds.

    The recipe's numbers are for a survey chip (GOTO's 1850², DECam's 2046×4094); a small
    frame (a 256² cutout) cannot host 250 separated fakes, so it gets as many per round as
    its area allows against a 1024² frame (at least 12) and up to four times the rounds.
    """
    area = float(shape[0] * shape[1])
    per_round = min(
        config.real_fakes_per_round,
        max(12, round(config.real_fakes_per_round * area / 1024**2)),
    )
    factor = min(4, math.ceil(config.real_fakes_per_round / per_round))
    return per_round, factor


def _real_field(spec: FieldSpec, config: TrainingSetConfig) -> dict[str, np.ndarray]:
    p = spec.params
    science = read_image(p["science"])
    reference = read_image(p["reference"])
    ny = science.shape[0]
    plain = prepare_pair(science, reference, PrepareConfig())
    # A small frame aligns on a handful of stars; fakes next to them (or a faded one) can
    # push one out of the match, so the injected runs accept two fewer than the plain one.
    align = replace(
        PrepareConfig().align, min_matches=min(6, max(3, plain.alignment.n_matched - 2))
    )
    injected = PrepareConfig(align=align)
    stars_xy = plain.reference_sources_xy
    sat_xy = _saturated_xy(science)
    base_truth = Table(
        {
            "kind": np.array(["star"] * len(stars_xy) + ["saturated_star"] * len(sat_xy)),
            "x": np.concatenate([stars_xy[:, 0], sat_xy[:, 0]]),
            "y": np.concatenate([stars_xy[:, 1], sat_xy[:, 1]]),
            "snr": np.full(len(stars_xy) + len(sat_xy), np.nan),
        }
    )
    samples = _Samples(np.random.default_rng([spec.seed, 1]), config.bogus_cap)

    def record_plain(variant: str, result: Subtraction, pair: PreparedPair) -> None:
        cand = result.candidates
        x, y = np.asarray(cand["x"], float), np.asarray(cand["y"], float)
        label_variant = variant if variant in ("dipole", "psf_ring") else "plain"
        kinds = label_candidates(x, y, KnownSources(base_truth), variant=label_variant)
        samples.add(
            result,
            kinds,
            variant,
            _split_by_position(y, ny),
            np.full(len(cand), np.nan),
            keep=_known_only(kinds),
        )

    _run_variants(spec, plain, config.variants, record_plain)

    # Fakes: isolated, on galaxies (the evaluation's machinery) and next to stars.
    sigma = plain.science_sigma
    rng = np.random.default_rng(spec.seed)
    quiet = quiet_sky(plain.science, plain.mask, sigma)
    n, factor = real_pair_scale(science.shape, config)
    hosts = stars_xy[: max(1, len(stars_xy) // 2)]
    if factor > 1:
        # A small frame aligns on its few bright stars: put fakes next to the fainter half.
        ix = np.clip(np.round(stars_xy).astype(int), 0, np.array(science.shape[::-1]) - 1)
        peak = plain.reference[ix[:, 1], ix[:, 0]]
        hosts = stars_xy[np.argsort(peak)[: max(1, len(stars_xy) // 2)]]
    for round_no in range(config.real_rounds * factor):
        seed = int(rng.integers(0, 2**31))
        inj = inject_fakes(
            science, plain.science, sigma, plain.science_psf, n=n * 2 // 3, allowed=quiet, seed=seed
        )
        near = _near_star_positions(
            rng, hosts, science.shape, n - len(inj.truth), blocked=plain.mask
        )
        snr = np.exp(rng.uniform(math.log(3.0), math.log(40.0), len(near)))
        norms = np.array(
            [math.sqrt(float(np.sum(plain.science_psf.at(x, y) ** 2))) for x, y in near]
        )
        image = inject_point_sources(
            inj.image, near, snr * sigma / np.maximum(norms, 1e-12), plain.science_psf.at, seed=rng
        )
        truth = vstack(
            [
                inj.truth[["kind", "x", "y", "snr"]],
                Table(
                    {
                        "kind": np.full(len(near), "transient_near_star", dtype="<U20"),
                        "x": near[:, 0],
                        "y": near[:, 1],
                        "snr": snr,
                    }
                ),
            ]
        )
        pair = prepare_pair(image, reference, injected)
        result = subtract(pair, _subtract_config())
        cand = result.candidates
        x, y = np.asarray(cand["x"], float), np.asarray(cand["y"], float)
        kinds = label_candidates(x, y, KnownSources(vstack([truth, base_truth])))
        # Only the fakes: the rest repeats the plain run's candidates.
        samples.add(
            result,
            kinds,
            f"fakes{round_no}",
            _split_by_position(y, ny),
            _true_snr(x, y, truth),
            keep=np.isin(kinds, REAL_KINDS),
        )
    for round_no in range(config.real_fading_rounds * factor if config.fading else 0):
        fading = real_fading(science, reference, plain, rng, n // 2)
        pair = prepare_pair(science, fading.reference, injected)
        result = subtract(pair, _subtract_config())
        cand = result.candidates
        x, y = np.asarray(cand["x"], float), np.asarray(cand["y"], float)
        kinds = label_candidates(x, y, KnownSources(vstack([fading.truth, base_truth])))
        samples.add(
            result,
            kinds,
            f"fading{round_no}",
            _split_by_position(y, ny),
            _true_snr(x, y, fading.truth),
            keep=np.isin(kinds, REAL_KINDS),
        )

    if "unmasked" in config.variants:
        _unmasked_run(
            science, reference, plain, injected, base_truth, samples, rng, n, factor, config
        )
    return samples.arrays()


_ARTIFACT_DRAWS = 3


def _unmasked_run(
    science: Image,
    reference: Image,
    plain: PreparedPair,
    injected: PrepareConfig,
    base_truth: Table,
    samples: _Samples,
    rng: np.random.Generator,
    n: int,
    factor: int,
    config: TrainingSetConfig,
) -> None:
    """Artifacts added to a real science image, left unmasked: their candidates as bogus.

    A small frame has a handful of stars for its PSF and photometric scaling; a draw of
    artifacts that leaves it too few is drawn again (three tries), else the unit goes
    without this run (logged).
    """
    share = 1.0 if factor == 1 else n / config.real_fakes_per_round
    # For a survey chip; a small frame gets its share by area and no hot pixels:
    # unmasked, they pass for stars and spoil the PSF of its few real ones.
    artifacts = ArtifactConfig(
        n_cosmic_rays=max(1, round(150 * share)),
        n_hot_pixels=100 if factor == 1 else 0,
        n_bad_columns=max(1, round(6 * share)),
        n_satellite_trails=round(3 * share),
        trail_sigma=(1.0, 6.0),
    )
    stars_xy = plain.reference_sources_xy
    pair = None
    for _ in range(1 if factor == 1 else _ARTIFACT_DRAWS):
        art_image, art_truth = add_artifacts(
            science, artifacts, sigma=plain.science_sigma, avoid_xy=stars_xy, seed=rng
        )
        try:
            pair = prepare_pair(art_image, reference, replace(injected, masks=_UNMASKED))
            break
        except (AlignmentError, PSFError) as e:
            if factor == 1:
                raise
            log.warning("%s: artifacts drawn again (%s)", science.label, e)
    if pair is None:
        log.warning("%s: no unmasked-artifact run after %d draws", science.label, _ARTIFACT_DRAWS)
        return
    result = subtract(pair, _subtract_config())
    cand = result.candidates
    x, y = np.asarray(cand["x"], float), np.asarray(cand["y"], float)
    known = KnownSources(
        vstack([art_truth[["kind", "x", "y", "snr", "length", "angle"]], base_truth])
    )
    kinds = label_candidates(x, y, known)
    samples.add(
        result,
        kinds,
        "unmasked",
        _split_by_position(y, science.shape[0]),
        np.full(len(cand), np.nan),
        keep=_known_only(kinds),
    )


def _fewer_transients(config: SimulationConfig, error: ConfigurationError) -> SimulationConfig:
    """After a failed placement: as many isolated transients as fitted, or half on galaxies.

    A crowded field with few galaxies (or wide PSFs: more room needed around each) cannot
    host every requested transient.
    """
    placed, requested = error.details.get("placed", 0), error.details.get("requested", 0)
    if error.details.get("where") == "isolated" and placed > 0:
        return replace(config, n_transients=config.n_transients - (requested - placed))
    if error.details.get("where") == "galaxies" and config.n_transients_on_galaxies > 0:
        return replace(config, n_transients_on_galaxies=config.n_transients_on_galaxies // 2)
    raise error


def build_field(spec: FieldSpec, config: TrainingSetConfig) -> dict[str, np.ndarray]:
    """All labelled candidates of one unit (arrays; see `TrainingSet` for the fields)."""
    if spec.kind == "simulated":
        return _simulated_field(spec, config)
    return _real_field(spec, config)
