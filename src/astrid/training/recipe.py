"""The recipe of a real/bogus training set: what to build, and its units in a fixed order.

Splits never share a field: simulated fields are train / val / test by field, and the
test fields use PSF widths that no training field has. A real pair is split by position
(see `astrid.training.field`). Everything is seeded: the same `TrainingSetConfig` gives
the same `field_specs`, and its `digest` names the set's folder.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from astrid.detection.features import NORMALISATION_VERSION
from astrid.errors import ConfigurationError
from astrid.observations.hashing import file_sha256

__all__ = ["GENERATOR_VERSION", "SPLITS", "FieldSpec", "TrainingSetConfig", "field_specs"]

SPLITS = ("train", "val", "test")
#: Version of the generator: part of the digest, bumped when the recipe changes.
GENERATOR_VERSION = 2
# PSF widths (science FWHM at the chip centre, px), from undersampled to 8 px. Test fields
# draw in turn from these bands: the held-out band no train or val field has (twice as
# often), then the undersampled and the wide band (new fields, regimes seen in training).
_FWHM_TRAIN = ((1.2, 2.3), (2.3, 3.2), (3.9, 5.0), (5.0, 8.0))
_FWHM_TEST = ((3.2, 3.9), (3.2, 3.9), (1.2, 2.3), (5.0, 8.0))


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
    fading : bool
        Add sources that fade (reference only) as real (`astrid.training.fading`).
    real_fading_rounds : int
        Rounds of fading sources (half a round of fakes each) per real pair.
    """

    n_train: int = 48
    n_val: int = 8
    n_test: int = 16
    shape: tuple[int, int] = (1024, 1024)
    seed: int = 0
    real_pairs: tuple[tuple[str, str], ...] = ()
    real_fakes_per_round: int = 250
    real_rounds: int = 5
    bogus_cap: int = 50
    variants: tuple[str, ...] = ("plain", "unmasked", "dipole", "psf_ring")
    keep_maps: bool = True
    fading: bool = True
    real_fading_rounds: int = 2

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


def _simulation_params(rng: np.random.Generator, split: str, index: int = 0) -> dict[str, Any]:
    """Seeing, PSF shape, depth and crowding of one simulated field (`index` in its split)."""
    if split == "test":
        band = _FWHM_TEST[index % len(_FWHM_TEST)]
    else:
        band = _FWHM_TRAIN[int(rng.integers(0, len(_FWHM_TRAIN)))]
    fwhm = rng.uniform(*band)
    corner = fwhm * rng.uniform(1.0, 1.25)
    ref_ratio = rng.uniform(0.7, 1.0)
    return {
        "science_fwhm": (round(fwhm, 4), round(corner, 4)),
        "reference_fwhm": (round(fwhm * ref_ratio, 4), round(corner * ref_ratio, 4)),
        "moffat_beta": round(float(rng.uniform(2.5, 5.0)), 3),
        "ellipticity": round(float(rng.uniform(0.0, 0.3)), 3),
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
            params = _simulation_params(np.random.default_rng(seed), split, i)
            specs.append(FieldSpec(f"sim-{split}-{i:03d}", "simulated", split, seed, params))
            k += 1
    for i, (ref, sci) in enumerate(config.real_pairs):
        rng = np.random.default_rng(int(seeds[k]))
        params = _simulation_params(rng, "train")
        params.update(reference=str(ref), science=str(sci))
        specs.append(FieldSpec(f"real-{i:02d}", "real", "by_position", int(seeds[k]), params))
        k += 1
    return specs
