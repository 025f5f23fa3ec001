"""Real/bogus on the real GOTO frame with injected fakes: the pipeline's own candidates.

The issue's measure: fakes injected into the real GOTO science frame (`inject_fakes`, the
measured PSF, SNR 3-40, quiet sky), the pair run through the pipeline (prepare, ZOGY,
detection), and every candidate scored. Candidates on a fake are real; candidates on a
**known source** are left out: the point sources of the science frame with no
counterpart on the aligned reference (about 60 new sources that 2.fits holds and 1.fits
lacks; found by `sep` at 10σ on the science with nothing at 3σ within 3 px on the
reference); every other candidate counts as bogus. For each model: AUC, TPR at FPR = 1 %
and 2 % (the target: TPR ≥ 0.95 at FPR ≤ 2 %), and FPR/TPR at the model's own operating
point. Unlike the training set's GOTO rows, nothing here is chosen by a label: a candidate
the labeller would call ``noise`` counts as bogus.

    python benchmarks/goto_realbogus.py NAME=MODEL.onnx [NAME=MODEL.onnx ...]
        [--n-fakes 300] [--seeds 0 1 2] [--out docs/results/goto_realbogus.md]

Needs ``pip install --no-deps zogyp``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import sep
from goto_real import goto_paths
from markdown_report import machine_line, write_report
from scipy.spatial import cKDTree

from astrid.detection.realbogus import RealBogusModel
from astrid.difference.subtract import subtract
from astrid.observations.fits_reader import read_image
from astrid.preprocess.pair import PreparedPair, prepare_pair
from astrid.simulation import inject_fakes
from astrid.training.metrics import roc_auc, tpr_at_fpr

MATCH_PX = 3.0


def new_sources(pair: PreparedPair) -> np.ndarray:
    """``(n, 2)`` x, y of science point sources with nothing on the aligned reference."""
    science = np.ascontiguousarray(pair.science, np.float64)
    reference = np.ascontiguousarray(pair.reference, np.float64)
    sci = sep.extract(science, 10.0, err=pair.science_sigma, mask=pair.mask, minarea=5)
    ref = sep.extract(reference, 3.0, err=pair.reference_sigma, mask=pair.mask, minarea=5)
    if len(sci) == 0:
        return np.empty((0, 2))
    if len(ref) == 0:
        return np.column_stack([sci["x"], sci["y"]])
    dist, _ = cKDTree(np.column_stack([ref["x"], ref["y"]])).query(
        np.column_stack([sci["x"], sci["y"]])
    )
    lonely = dist > MATCH_PX
    return np.column_stack([sci["x"][lonely], sci["y"][lonely]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", nargs="+", help="NAME=MODEL.onnx")
    parser.add_argument("--n-fakes", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    ref_path, sci_path = goto_paths()
    reference, science = read_image(ref_path), read_image(sci_path)
    plain = prepare_pair(science, reference)
    own = subtract(plain).candidates
    positive = np.asarray(own["sign"]) > 0
    own_xy = np.column_stack([np.asarray(own["x"], float), np.asarray(own["y"], float)])
    known_sets = {
        "strict": new_sources(plain),
        "pair's positives left out": np.vstack([new_sources(plain), own_xy[positive]]),
    }
    models = {
        name: RealBogusModel.load(Path(path), threads=2)
        for name, _, path in (m.partition("=") for m in args.models)
    }
    runs = []
    for seed in args.seeds:
        fake = inject_fakes(
            science, plain.science, plain.science_sigma, plain.science_psf,
            n=args.n_fakes, seed=seed,
        )  # fmt: skip
        result = subtract(prepare_pair(fake.image, reference))
        cand = result.candidates
        xy = np.column_stack([np.asarray(cand["x"], float), np.asarray(cand["y"], float)])
        truth = np.column_stack([np.asarray(fake.truth["x"]), np.asarray(fake.truth["y"])])
        on_fake = cKDTree(truth).query(xy)[0] <= MATCH_PX
        rb = {name: model.score(cand, result.cutouts).rb for name, model in models.items()}
        runs.append((xy, on_fake, rb))
    results: dict[str, dict[str, dict[str, float]]] = {}
    counts = {}
    for label, known in known_sets.items():
        real_rows: list[np.ndarray] = []
        kept_rb: dict[str, list[np.ndarray]] = {name: [] for name in models}
        n_known = 0
        for xy, on_fake, rb in runs:
            on_known = np.zeros(len(xy), bool)
            if len(known):
                on_known = cKDTree(known).query(xy)[0] <= MATCH_PX
            keep = on_fake | ~on_known
            n_known += int((~keep).sum())
            real_rows.append(on_fake[keep])
            for name in models:
                kept_rb[name].append(rb[name][keep])
        real = np.concatenate(real_rows)
        counts[label] = (len(real), int(real.sum()), int((~real).sum()), n_known, len(known))
        results[label] = {}
        for name, model in models.items():
            score = np.concatenate(kept_rb[name])
            op = float(model.card["operating_threshold"])
            results[label][name] = {
                "operating_threshold": op,
                "auc": roc_auc(real.astype(int), score),
                "tpr_at_fpr_1pct": tpr_at_fpr(real, score, 0.01),
                "tpr_at_fpr_2pct": tpr_at_fpr(real, score, 0.02),
                "fpr_at_op": float(np.mean(score[~real] > op)),
                "tpr_at_op": float(np.mean(score[real] > op)),
            }
    lines = [
        machine_line(
            "python benchmarks/goto_realbogus.py "
            + " ".join(f"{n}=…" for n in models)
            + f" --n-fakes {args.n_fakes} --seeds {' '.join(map(str, args.seeds))}"
        ),
        "",
        f"{len(args.seeds)} injections of {args.n_fakes} fakes into the real GOTO frame; "
        f"the pair itself gives {len(own)} candidates ({int(positive.sum())} positive).",
    ]
    for label, (n, n_real, n_bogus, n_known, n_sources) in counts.items():
        lines += [
            "",
            f"**{label}**: {n} candidates scored, {n_real} on fakes (real), {n_bogus} "
            f"bogus; {n_known} on the {n_sources} known sources left out.",
            "",
            "| model | op. threshold | AUC | TPR at FPR 1 % | TPR at FPR 2 % | FPR at op. | "
            "TPR at op. |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, r in results[label].items():
            lines.append(
                f"| {name} | {r['operating_threshold']:.3f} | {r['auc']:.4f} | "
                f"{r['tpr_at_fpr_1pct']:.4f} | {r['tpr_at_fpr_2pct']:.4f} | "
                f"{r['fpr_at_op']:.4f} | {r['tpr_at_op']:.4f} |"
            )
    write_report(lines, args.out)
    if args.out:
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
