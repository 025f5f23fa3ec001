"""Build the small held-out cutout set that guards the shipped real/bogus model.

``tests/detection/test_shipped_model_guard.py`` scores this set with the shipped model and
checks AUC, FNR at FPR = 1 % and the OOD rates against what was measured when the set was
made, so a model regression fails a test instead of hiding behind the numbers in its card.

The set is made by the training-set builder (`astrid.training`) from units of
the **test split** of the recipe the shipped model was trained on
(``TrainingSetConfig(real_pairs=(GOTO, *others))``, master seed 0, the other pairs given
with ``--real-pair``; its digest is checked against the model card's ``data.digest``), so
no candidate comes from a field the model or its calibration saw:

- simulated test fields (``sim-test-000``, ...: PSF widths 3.2-3.9 px, a band no training
  field has, and seeds of their own);
- the real GOTO pair of the ``zogyp`` wheel, keeping only its rows >= 70 % of the
  height (the pair's test rows; training used rows < 60 %). Fewer injection rounds than the
  full recipe are run (``--goto-rounds``, 2 of 5) to keep the build short: those rounds
  are the recipe's first ones, while the added artifacts (drawn after the rounds) differ
  from the recipe's; all of them lie in the held-out rows.

Then a seeded subsample, stratified by source, label and kind: ``--real-per-kind``
candidates of each real kind and ``--bogus-per-kind`` of each bogus kind of the simulated
fields, ``--goto-real-per-kind`` / ``--goto-bogus-per-kind`` of the GOTO rows (all of a kind
when it has fewer). A candidate costs ≈ 22 kB compressed (float16 noise does not compress),
so the defaults (407 candidates) make a file of 8.8 MB. Cutouts are the normalised network
input (float16, ``(n, 4, 63, 63)``) and the 9 scalar features, so the test needs only
inference code. The file holds ``cutouts``, ``scalars``, ``label``,
``kind``, ``source`` (``simulated`` or ``goto``), ``unit``, ``snr_true``, ``variant`` and
``digest`` (the recipe's), written with ``np.savez_compressed``.

Usage (35-50 s per simulated field and 200 s for the GOTO pair on the shared 2-core
machine; a second run reuses the built units in ``--cache``)::

    python benchmarks/heldout_set.py --out tests/data/realbogus_heldout.npz \\
        --fields 2 --cache /tmp/heldout_units   # --no-goto: simulated fields only
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from astrid.detection.realbogus import RealBogusModel
from astrid.training import REAL_KINDS, TrainingSetConfig, build_field, field_specs

_KEYS = ("cutouts", "scalars", "label", "kind", "variant", "split", "snr_true")


def goto_pair() -> tuple[str, str]:
    """(reference, science) of the zogyp wheel's GOTO pair."""
    spec = importlib.util.find_spec("zogyp")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the zogyp wheel is not installed (pip install --no-deps zogyp)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "test"
    return str(folder / "1.fits"), str(folder / "2.fits")


def _recipe(args: argparse.Namespace) -> TrainingSetConfig:
    """The shipped model's recipe: the GOTO pair (real-00), then ``--real-pair`` ones."""
    extra = tuple(tuple(text.split(",", 1)) for text in args.real_pair or [])
    return TrainingSetConfig(real_pairs=(goto_pair(), *extra))


def build_units(args: argparse.Namespace) -> list[tuple[str, str, dict[str, np.ndarray]]]:
    """(unit name, source, arrays) of the chosen test-split units (cached in --cache)."""
    recipe = _recipe(args)
    expected = RealBogusModel.load().card["data"]["digest"]
    if recipe.digest() != expected:
        sys.exit(f"recipe digest {recipe.digest()[:16]} is not the shipped model's {expected[:16]}")
    specs = field_specs(recipe)
    chosen = [s for s in specs if s.kind == "simulated" and s.split == "test"][: args.fields]
    if args.goto:
        chosen += [s for s in specs if s.kind == "real" and s.name == "real-00"]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    units = []
    for spec in chosen:
        config = replace(recipe, real_rounds=args.goto_rounds) if spec.kind == "real" else recipe
        path = cache / (
            f"{spec.name}-r{config.real_rounds}.npz" if spec.kind == "real" else f"{spec.name}.npz"
        )
        if not path.is_file():
            start = time.perf_counter()
            arrays = build_field(spec, config)
            np.savez(path, **{k: arrays[k] for k in _KEYS})  # type: ignore[arg-type]
            print(
                f"built {spec.name} (seed {spec.seed}): {len(arrays['label'])} candidates, "
                f"{time.perf_counter() - start:.0f} s"
            )
        with np.load(path) as data:
            arrays = {k: data[k] for k in _KEYS}
        # Simulated test fields are test throughout; the real pair only in its test rows.
        keep = arrays["split"] == "test"
        if spec.kind == "simulated" and not keep.all():
            sys.exit(f"{spec.name}: not a test-split unit")
        units.append(
            (
                spec.name,
                "goto" if spec.kind == "real" else "simulated",
                {k: v[keep] for k, v in arrays.items()},
            )
        )
    return units


def subsample(
    units: list[tuple[str, str, dict[str, np.ndarray]]],
    quotas: dict[tuple[str, bool], int],
    seed: int,
) -> dict[str, np.ndarray]:
    """At most ``quotas[(source, is_real)]`` candidates of each kind per source (no replacement)."""
    rng = np.random.default_rng(seed)
    cat = {k: np.concatenate([u[2][k] for u in units]) for k in _KEYS}
    cat["unit"] = np.concatenate([np.full(len(u[2]["label"]), u[0]) for u in units])
    cat["source"] = np.concatenate([np.full(len(u[2]["label"]), u[1]) for u in units])
    picked: list[np.ndarray] = []
    for source in np.unique(cat["source"]):
        for kind in np.unique(cat["kind"][cat["source"] == source]):
            where = np.flatnonzero((cat["source"] == source) & (cat["kind"] == kind))
            quota = quotas[(str(source), bool(kind in REAL_KINDS))]
            picked.append(rng.choice(where, min(quota, len(where)), replace=False))
    idx = np.sort(np.concatenate(picked))
    out = {k: v[idx] for k, v in cat.items() if k != "split"}
    out["cutouts"] = out["cutouts"].astype(np.float16)
    out["scalars"] = out["scalars"].astype(np.float32)
    out["label"] = out["label"].astype(np.int8)
    out["snr_true"] = out["snr_true"].astype(np.float32)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="tests/data/realbogus_heldout.npz")
    parser.add_argument("--fields", type=int, default=2, help="simulated test fields")
    parser.add_argument(
        "--goto",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add the GOTO pair's test rows",
    )
    parser.add_argument("--goto-rounds", type=int, default=2, help="fake-injection rounds")
    parser.add_argument("--real-per-kind", type=int, default=30, help="simulated, per real kind")
    parser.add_argument("--bogus-per-kind", type=int, default=18, help="simulated, per bogus kind")
    parser.add_argument("--goto-real-per-kind", type=int, default=50, help="GOTO, per real kind")
    parser.add_argument("--goto-bogus-per-kind", type=int, default=12, help="GOTO, per bogus kind")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subsample")
    parser.add_argument("--cache", default="/tmp/heldout_units", help="built units kept here")
    parser.add_argument(
        "--real-pair",
        action="append",
        metavar="REF,SCI",
        help="the recipe's other real pairs, in order (real-01, ...; only for its digest)",
    )
    args = parser.parse_args()
    units = build_units(args)
    quotas = {
        ("simulated", True): args.real_per_kind,
        ("simulated", False): args.bogus_per_kind,
        ("goto", True): args.goto_real_per_kind,
        ("goto", False): args.goto_bogus_per_kind,
    }
    arrays = subsample(units, quotas, args.seed)
    arrays["digest"] = np.array(_recipe(args).digest())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    print(f"{out}: {len(arrays['label'])} candidates, {out.stat().st_size / 1e6:.2f} MB")
    for source in np.unique(arrays["source"]):
        sel = arrays["source"] == source
        real = int(np.isin(arrays["kind"][sel], REAL_KINDS).sum())
        print(f"  {source}: {real} real, {int(sel.sum()) - real} bogus")
        for kind in np.unique(arrays["kind"][sel]):
            print(f"    {kind:22s} {int(np.sum(sel & (arrays['kind'] == kind)))}")


if __name__ == "__main__":
    main()
