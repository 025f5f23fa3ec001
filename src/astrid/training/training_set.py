"""The real/bogus training set, built by injection the way surveys build theirs.

No labelled survey data can be downloaded here, so every example is made: real changes
injected into simulated fields (`simulate_pair`, PSF and depth drawn per field) and,
optionally, into real pairs (the GOTO frames of the ``zogyp`` wheel), and the bogus
candidates the pipeline really produces, each named. The recipe and its units are in
`astrid.training.recipe`, one unit's labelled candidates in `astrid.training.field`;
this module builds all units and reads the set back.

Everything is seeded: the same `TrainingSetConfig` rebuilds the same set. Fields are
written one file each (``fields/<name>.npz``) under a folder named by the config's
digest, so an interrupted build resumes and a finished one is reused.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from astrid.detection.features import NORMALISATION_VERSION
from astrid.errors import AstridError, ConfigurationError
from astrid.training.field import build_field
from astrid.training.recipe import SPLITS, FieldSpec, TrainingSetConfig, field_specs

__all__ = [
    "TrainingSet",
    "build_training_set",
    "load_training_set",
]

log = logging.getLogger(__name__)


def _build_one(spec: FieldSpec, config: TrainingSetConfig, path: str) -> tuple[str, int, float]:
    """Worker: build one unit and write it atomically."""
    start = time.perf_counter()
    arrays = build_field(spec, config)
    tmp = Path(path).with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)
    return spec.name, len(arrays.get("label", ())), time.perf_counter() - start


#: The `TrainingSet` fields with one entry per candidate.
PER_CANDIDATE = (
    *("cutouts", "scalars", "label", "kind", "variant", "split", "source"),
    *("snr_true", "scorr", "x", "y"),
)


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
        return replace(self, **{n: getattr(self, n)[mask] for n in PER_CANDIDATE})

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
    todo.sort(key=lambda s: s.kind != "real")  # the long real pairs first, beside the rest
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
