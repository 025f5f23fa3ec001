"""The real/bogus training set, built by injection the way surveys build theirs.

No labelled survey data can be downloaded here, so every example is made:

- **real**: point sources injected into science images with their own PSF (isolated, on
  galaxies, next to stars, SNR 3-40) and the simulator's variable stars, run through the
  same preprocess and difference stages as any frame;
- **bogus**: what those stages really produce where nothing real is: noise peaks and star
  residuals of the plain pair, and the artifacts a detector and a pipeline add, each
  named (`astrid.detection.labels`): cosmic rays, hot pixels, bad columns and satellite
  trails that slipped past the masks (a "unmasked" run, as when a frame's masks fail),
  saturated-star residuals and bleed trails, misregistration dipoles and PSF-mismatch
  rings (`astrid.detection.perturb`).

Sources are simulated fields (`simulate_pair`, PSF and depth drawn per field) and,
optionally, real pairs (the GOTO frames of the ``zogyp`` wheel), where injected fakes
are the real class and only candidates on known stars (or on added artifacts) are
labelled bogus: the other candidates of a real pair may be real changes, so they are
left out rather than guessed.

Splits never share a field: simulated fields are train / val / test by field, and the
test fields use PSF widths that no training field has. A real pair is split by position
(rows below 60 % of its height train, 60-70 % validate, the rest test).

Everything is seeded: the same `TrainingSetConfig` rebuilds the same set. Fields are
written one file each (``fields/<name>.npz``) under a folder named by the config's
digest, so an interrupted build resumes and a finished one is reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table, vstack
from scipy import ndimage

from astrid.detection.features import NORMALISATION_VERSION, normalise_cutouts, scalar_features
from astrid.detection.labels import REAL_KINDS, KnownSources, label_candidates
from astrid.detection.perturb import mismatch_psf, misregister
from astrid.difference.subtract import SubtractConfig, Subtraction, subtract
from astrid.errors import AstridError, ConfigurationError
from astrid.observations.fits_reader import read_image
from astrid.observations.hashing import file_sha256
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

__all__ = [
    "SPLITS",
    "FieldSpec",
    "TrainingSet",
    "TrainingSetConfig",
    "build_field",
    "build_training_set",
    "field_specs",
    "load_training_set",
]

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
#: Version of the generator: part of the digest, bumped when the recipe changes.
GENERATOR_VERSION = 1
_UNMASKED = MaskConfig(cosmic_rays=False, bad_columns=False, saturation_fraction=1e6)
# Real pairs: rows below these fractions of the height go to train, then val, then test.
_REAL_SPLIT = (0.6, 0.7)
# PSF widths (science FWHM at the chip centre, px): test fields draw from the held-out band.
_FWHM_TRAIN = ((2.3, 3.2), (3.9, 5.0))
_FWHM_TEST = (3.2, 3.9)


@dataclass(frozen=True)
class TrainingSetConfig:
    """What to build.

    Attributes
    ----------
    n_train, n_val, n_test : int
        Simulated fields per split.
    shape : tuple of int
        Size of the simulated fields.
    seed : int
        Master seed; field ``k`` uses a seed derived from it.
    real_pairs : tuple of (str, str)
        ``(reference, science)`` FITS paths of real pairs to inject into.
    real_fakes_per_round, real_rounds : int
        Fakes injected into each real science image per round, and rounds.
    bogus_cap : int
        Most bogus candidates of one kind kept per run of a unit.
    variants : tuple of str
        Which runs make candidates: ``plain``, ``unmasked``, ``dipole``, ``psf_ring``.
    keep_maps : bool
        Also keep S_corr and D of the plain run of simulated fields (U-Net training).
    """

    n_train: int = 40
    n_val: int = 8
    n_test: int = 12
    shape: tuple[int, int] = (1024, 1024)
    seed: int = 0
    real_pairs: tuple[tuple[str, str], ...] = ()
    real_fakes_per_round: int = 250
    real_rounds: int = 5
    bogus_cap: int = 50
    variants: tuple[str, ...] = ("plain", "unmasked", "dipole", "psf_ring")
    keep_maps: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.variants) - {"plain", "unmasked", "dipole", "psf_ring"}
        if unknown or "plain" not in self.variants:
            raise ConfigurationError(
                f"TrainingSetConfig.variants must include 'plain' and only name plain, "
                f"unmasked, dipole, psf_ring; got {self.variants}",
                variants=self.variants,
            )
        if min(self.n_train, self.n_val, self.n_test) < 0:
            raise ConfigurationError("TrainingSetConfig: field counts must be >= 0")

    def as_dict(self, *, with_hashes: bool = False) -> dict[str, Any]:
        """Plain-JSON form; with the real files' sha256 when `with_hashes`."""
        out = asdict(self)
        out["generator_version"] = GENERATOR_VERSION
        out["normalisation_version"] = NORMALISATION_VERSION
        if with_hashes:
            out["real_pair_sha256"] = [
                [file_sha256(ref), file_sha256(sci)] for ref, sci in self.real_pairs
            ]
        return out

    def digest(self) -> str:
        """sha256 of the recipe (real inputs by content, not by path)."""
        recipe = self.as_dict(with_hashes=True)
        recipe.pop("real_pairs")
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class FieldSpec:
    """One unit of the build: a simulated field or a real pair."""

    name: str
    kind: str  # "simulated" or "real"
    split: str  # for simulated fields; real pairs are split by position
    seed: int
    params: dict[str, Any] = field(default_factory=dict)


def _simulation_params(rng: np.random.Generator, split: str) -> dict[str, Any]:
    """Seeing, PSF shape, depth and crowding of one simulated field."""
    if split == "test":
        fwhm = rng.uniform(*_FWHM_TEST)
    else:
        band = _FWHM_TRAIN[int(rng.integers(0, len(_FWHM_TRAIN)))]
        fwhm = rng.uniform(*band)
    corner = fwhm * rng.uniform(1.0, 1.25)
    ref_ratio = rng.uniform(0.7, 1.0)
    return {
        "science_fwhm": (round(fwhm, 4), round(corner, 4)),
        "reference_fwhm": (round(fwhm * ref_ratio, 4), round(corner * ref_ratio, 4)),
        "moffat_beta": round(float(rng.uniform(2.5, 5.0)), 3),
        "ellipticity": round(float(rng.uniform(0.0, 0.15)), 3),
        "reference_depth": round(float(rng.uniform(1.5, 5.0)), 3),
        "n_stars": int(rng.integers(300, 900)),
        "n_galaxies": int(rng.integers(60, 160)),
        "dipole_shift": round(float(rng.uniform(0.25, 0.8)), 3),
        "dipole_angle": round(float(rng.uniform(0, 2 * math.pi)), 4),
        "psf_which": str(rng.choice(["science", "reference"])),
        "psf_change": round(
            float(rng.uniform(0.5, 1.2) if rng.uniform() < 0.6 else -rng.uniform(0.2, 0.5)), 3
        ),
    }


def field_specs(config: TrainingSetConfig) -> list[FieldSpec]:
    """Every unit of the build, in a fixed order."""
    seeds = np.random.SeedSequence(config.seed).generate_state(
        config.n_train + config.n_val + config.n_test + len(config.real_pairs)
    )
    specs: list[FieldSpec] = []
    k = 0
    for split, n in zip(SPLITS, (config.n_train, config.n_val, config.n_test), strict=True):
        for i in range(n):
            seed = int(seeds[k])
            params = _simulation_params(np.random.default_rng(seed), split)
            specs.append(FieldSpec(f"sim-{split}-{i:03d}", "simulated", split, seed, params))
            k += 1
    for i, (ref, sci) in enumerate(config.real_pairs):
        rng = np.random.default_rng(int(seeds[k]))
        params = _simulation_params(rng, "train")
        params.update(reference=str(ref), science=str(sci))
        specs.append(FieldSpec(f"real-{i:02d}", "real", "by_position", int(seeds[k]), params))
        k += 1
    return specs


# -- one field ----------------------------------------------------------------------------


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
    try:
        sim = simulate_pair(sim_config, seed=spec.seed)
    except ConfigurationError:
        # A crowded field with few galaxies cannot host 30 transients on them: use 15.
        sim_config = replace(sim_config, n_transients_on_galaxies=n(30) // 2)
        sim = simulate_pair(sim_config, seed=spec.seed)
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
    truth = vstack([truth[["kind", "x", "y", "snr", "length", "angle"]], extra])
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

    plain = prepare_pair(science, sim.reference, PrepareConfig())
    _run_variants(spec, plain, config.variants, record)
    if "unmasked" in config.variants:
        pair = prepare_pair(science, sim.reference, PrepareConfig(masks=_UNMASKED))
        record("unmasked", subtract(pair, _subtract_config()), pair)
    out = samples.arrays()
    if maps:
        real = truth[np.isin(np.asarray(truth["kind"]).astype(str), REAL_KINDS)]
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


def _real_field(spec: FieldSpec, config: TrainingSetConfig) -> dict[str, np.ndarray]:
    p = spec.params
    science = read_image(p["science"])
    reference = read_image(p["reference"])
    ny = science.shape[0]
    plain = prepare_pair(science, reference, PrepareConfig())
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

    def known_only(kinds: np.ndarray) -> np.ndarray:
        # Off known stars a candidate of a real pair may be a real change: leave it out.
        return kinds != "noise"

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
            keep=known_only(kinds),
        )

    _run_variants(spec, plain, config.variants, record_plain)

    # Fakes: isolated, on galaxies (the evaluation's machinery) and next to stars.
    sigma = plain.science_sigma
    rng = np.random.default_rng(spec.seed)
    quiet = quiet_sky(plain.science, plain.mask, sigma)
    bright = stars_xy[: max(1, len(stars_xy) // 2)]
    for round_no in range(config.real_rounds):
        n = config.real_fakes_per_round
        seed = int(rng.integers(0, 2**31))
        inj = inject_fakes(
            science, plain.science, sigma, plain.science_psf, n=n * 2 // 3, allowed=quiet, seed=seed
        )
        near = _near_star_positions(
            rng, bright, science.shape, n - len(inj.truth), blocked=plain.mask
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
        pair = prepare_pair(image, reference, PrepareConfig())
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

    if "unmasked" in config.variants:
        art_image, art_truth = add_artifacts(
            science,
            ArtifactConfig(
                n_cosmic_rays=150,
                n_hot_pixels=100,
                n_bad_columns=6,
                n_satellite_trails=3,
                trail_sigma=(1.0, 6.0),
            ),
            sigma=sigma,
            avoid_xy=stars_xy,
            seed=rng,
        )
        pair = prepare_pair(art_image, reference, PrepareConfig(masks=_UNMASKED))
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
            _split_by_position(y, ny),
            np.full(len(cand), np.nan),
            keep=known_only(kinds),
        )
    return samples.arrays()


def build_field(spec: FieldSpec, config: TrainingSetConfig) -> dict[str, np.ndarray]:
    """All labelled candidates of one unit (arrays; see `TrainingSet` for the fields)."""
    if spec.kind == "simulated":
        return _simulated_field(spec, config)
    return _real_field(spec, config)


def _build_one(spec: FieldSpec, config: TrainingSetConfig, path: str) -> tuple[str, int, float]:
    """Worker: build one unit and write it atomically."""
    start = time.perf_counter()
    arrays = build_field(spec, config)
    tmp = Path(path).with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)
    return spec.name, len(arrays.get("label", ())), time.perf_counter() - start


# -- the whole set ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TrainingSet:
    """Labelled candidates of every unit, concatenated.

    Attributes
    ----------
    cutouts : ndarray
        ``(n, 4, 63, 63)`` float16 normalised network input (`normalise_cutouts`).
    scalars : ndarray
        ``(n, k)`` float32 scalar features (`scalar_features`).
    label : ndarray
        1 real, 0 bogus.
    kind, variant, split, source : ndarray of str
        What made the candidate, which run, which split, which unit.
    snr_true, scorr, x, y : ndarray
        Injected SNR (NaN for bogus), S_corr and position.
    digest : str
        The config's digest (the data hash models record).
    directory : Path
    """

    cutouts: np.ndarray
    scalars: np.ndarray
    label: np.ndarray
    kind: np.ndarray
    variant: np.ndarray
    split: np.ndarray
    source: np.ndarray
    snr_true: np.ndarray
    scorr: np.ndarray
    x: np.ndarray
    y: np.ndarray
    digest: str
    directory: Path

    def __len__(self) -> int:
        return len(self.label)

    def subset(self, mask: np.ndarray) -> TrainingSet:
        """The rows where `mask` is True."""
        names = (
            *("cutouts", "scalars", "label", "kind", "variant", "split", "source"),
            *("snr_true", "scorr", "x", "y"),
        )
        return replace(self, **{n: getattr(self, n)[mask] for n in names})

    def counts(self) -> dict[str, dict[str, int]]:
        """Candidates per split and kind."""
        return {
            split: {
                str(k): int(np.sum((self.split == split) & (self.kind == k)))
                for k in np.unique(self.kind[self.split == split])
            }
            for split in SPLITS
        }

    def map_files(self, split: str) -> list[Path]:
        """Field files of simulated units of `split` that hold S_corr/D maps."""
        manifest = json.loads((self.directory / "manifest.json").read_text())
        return [
            self.directory / "fields" / f"{u['name']}.npz"
            for u in manifest["units"]
            if u["kind"] == "simulated" and u["split"] == split
        ]


def build_training_set(
    config: TrainingSetConfig,
    root: str | os.PathLike[str],
    *,
    workers: int = 1,
    on_unit: Callable[[str, int, float], None] | None = None,
) -> Path:
    """Build (or finish, or reuse) the set under ``root/<digest[:16]>``.

    Parameters
    ----------
    config : TrainingSetConfig
        The recipe.
    root : path
        Parent folder of training sets.
    workers : int
        Processes (units are independent).
    on_unit : callable, optional
        ``on_unit(name, n_candidates, seconds)`` as units finish.

    Returns
    -------
    Path
        The set's folder (``manifest.json``, ``fields/*.npz``).
    """
    for ref, sci in config.real_pairs:
        for path in (ref, sci):
            if not Path(path).is_file():
                raise ConfigurationError(f"{path}: real pair file not found", path=str(path))
    digest = config.digest()
    directory = Path(root) / digest[:16]
    (directory / "fields").mkdir(parents=True, exist_ok=True)
    specs = field_specs(config)
    todo = [s for s in specs if not (directory / "fields" / f"{s.name}.npz").exists()]
    log.info("training set %s: %d of %d units to build", digest[:16], len(todo), len(specs))
    failures: list[str] = []
    if workers <= 1 or len(todo) <= 1:
        for spec in todo:
            try:
                result = _build_one(spec, config, str(directory / "fields" / f"{spec.name}.npz"))
            except AstridError as e:
                failures.append(f"{spec.name}: {e}")
                continue
            if on_unit:
                on_unit(*result)
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            futures = {
                pool.submit(
                    _build_one, spec, config, str(directory / "fields" / f"{spec.name}.npz")
                ): spec
                for spec in todo
            }
            for future in as_completed(futures):
                try:
                    result = future.result()
                except AstridError as e:
                    failures.append(f"{futures[future].name}: {e}")
                    continue
                if on_unit:
                    on_unit(*result)
    if failures:
        raise ConfigurationError(
            "training set: units failed: " + "; ".join(failures), failures=failures
        )
    manifest = {
        "digest": digest,
        "config": config.as_dict(with_hashes=True),
        "units": [{"name": s.name, "kind": s.kind, "split": s.split, **s.params} for s in specs],
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return directory


def load_training_set(directory: str | os.PathLike[str]) -> TrainingSet:
    """Read a set written by `build_training_set`.

    Raises
    ------
    ConfigurationError
        If the folder has no manifest, a unit file is missing, or its normalisation is not
        the current one.
    """
    folder = Path(directory)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise ConfigurationError(f"{folder}: not a training set (no manifest.json)")
    manifest = json.loads(manifest_path.read_text())
    version = manifest["config"].get("normalisation_version")
    if version != NORMALISATION_VERSION:
        raise ConfigurationError(
            f"{folder}: built with input normalisation v{version}, this code uses "
            f"v{NORMALISATION_VERSION}; rebuild it",
        )
    parts: list[dict[str, np.ndarray]] = []
    for unit in manifest["units"]:
        path = folder / "fields" / f"{unit['name']}.npz"
        if not path.is_file():
            raise ConfigurationError(f"{path}: unit file missing; rebuild the set")
        with np.load(path) as data:
            if "label" not in data.files:
                continue
            arrays = {k: data[k] for k in data.files if not k.startswith("map_")}
        n = len(arrays["label"])
        arrays["source"] = np.full(n, unit["name"], dtype="<U16")
        parts.append(arrays)
    if not parts:
        raise ConfigurationError(f"{folder}: the training set holds no candidates")
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return TrainingSet(
        cutouts=cat["cutouts"],
        scalars=cat["scalars"],
        label=cat["label"].astype(np.int64),
        kind=cat["kind"],
        variant=cat["variant"],
        split=cat["split"],
        source=cat["source"],
        snr_true=cat["snr_true"],
        scorr=cat["scorr"],
        x=cat["x"],
        y=cat["y"],
        digest=manifest["digest"],
        directory=folder,
    )
