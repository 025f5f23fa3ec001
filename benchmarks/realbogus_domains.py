"""Real/bogus across domains: PSF regimes, fading sources, partial stamps, real instruments.

Scores the **test split** of a training set (`astrid train`'s folder) with one or more
ONNX models side by side, each at its own operating point (the card's threshold, chosen on
its validation split), and reports:

- per PSF regime of the test fields (the held-out band 3.2-3.9 px that no training field
  of the current recipe has, undersampled 1.2-2.3 px, wide 5-8 px) and the rows of each
  real instrument's pairs (named by the science file's TELESCOP, else its folder): AUC,
  FNR at FPR = 1 %, FPR and FNR at the operating point, and the share with ``ood > 0.99``;
- recall of real detections by sign at the operating point: new sources (positive) against
  sources that faded from the reference (``fading``, ``fading_on_galaxy``: negative);
- how well ``ood`` separates the undersampled and wide fields from the held-out band
  (AUROC): for a model trained on 2.3-5 px only, that is a leave-PSF-regime-out test;
  and each instrument's rows of every split from the simulated test fields;
- each instrument's rows of every split (train and val included): a leave-one-instrument-
  out test for a model trained without that instrument's units (``exclude_sources``),
  in-sample for the others;
- rb's error rates (all test rows) in bands of ``ood`` (< 0.5, 0.5-0.9, 0.9-0.99, ≥ 0.99):
  how far to trust rb when ``ood`` is high;
- the same candidates with partial stamps: only a centred 31×31 square kept (a 30×30
  stamp padded to 63×63, as another survey's stream delivers it) and 16 rows cut at one
  edge (a chip edge). The pixels are removed from the *normalised* input (the set keeps no
  raw pixels), which leaves the kept pixels' scaling as computed on the full stamp.

    python benchmarks/realbogus_domains.py SET_DIR NAME=MODEL.onnx [NAME=MODEL.onnx ...]
        [--out docs/results/realbogus_domains.md]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from astropy.io import fits
from markdown_report import machine_line, write_report

from astrid.detection.realbogus import RealBogusModel
from astrid.training import load_training_set
from astrid.training.labels import FADING_KINDS
from astrid.training.metrics import fnr_at_fpr, roc_auc

#: ``ood`` bands in which rb's error rates are reported (when not to trust rb).
OOD_BANDS = ((0.0, 0.5), (0.5, 0.9), (0.9, 0.99), (0.99, 1.0))

REGIMES = {
    "held-out band 3.2-3.9 px": (3.2, 3.9),
    "undersampled 1.2-2.3 px": (1.2, 2.3),
    "wide 5-8 px": (5.0, 8.0),
}


def _unit_fwhm(directory: Path) -> dict[str, float]:
    manifest = json.loads((directory / "manifest.json").read_text())
    return {
        u["name"]: float(u["science_fwhm"][0])
        for u in manifest["units"]
        if u["kind"] == "simulated"
    }


def _instruments(directory: Path) -> dict[str, str]:
    """Unit name -> instrument of each real pair: TELESCOP of its science file, else folder."""
    manifest = json.loads((directory / "manifest.json").read_text())
    out = {}
    for u in manifest["units"]:
        if u["kind"] != "real":
            continue
        science = Path(u["science"])
        try:
            telescope = fits.getheader(science).get("TELESCOP")
        except OSError:
            telescope = None
        out[u["name"]] = str(telescope or science.parent.name)
    return out


def partial(cutouts: np.ndarray, how: str) -> np.ndarray:
    """Normalised cutouts with pixels removed: ``centre31`` or ``edge16``."""
    out = cutouts.copy()
    missing = np.zeros(cutouts.shape[-2:], bool)
    if how == "centre31":
        missing[:] = True
        missing[16:47, 16:47] = False
    else:
        missing[:16, :] = True
    out[:, :3, missing] = 0.0
    out[:, 3, missing] = 1.0
    return out


def _rates(label: np.ndarray, rb: np.ndarray, ood: np.ndarray, op: float) -> dict[str, float]:
    real = label == 1
    both = real.any() and (~real).any()
    return {
        "n": int(len(label)),
        "auc": roc_auc(label, rb) if both else float("nan"),
        "fnr_at_fpr_1pct": fnr_at_fpr(label, rb, 0.01)[0] if both else float("nan"),
        "fpr_at_op": float(np.mean(rb[~real] > op)) if (~real).any() else float("nan"),
        "fnr_at_op": float(np.mean(rb[real] <= op)) if real.any() else float("nan"),
        "ood_gt_0.99": float(np.mean(ood > 0.99)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("set_dir", type=Path)
    parser.add_argument("models", nargs="+", help="NAME=MODEL.onnx")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    data = load_training_set(args.set_dir)
    test = data.subset(data.split == "test")
    fwhm = _unit_fwhm(args.set_dir)
    unit_fwhm = np.array([fwhm.get(str(s), np.nan) for s in test.source])
    groups = {name: (unit_fwhm >= lo) & (unit_fwhm <= hi) for name, (lo, hi) in REGIMES.items()}
    instrument = _instruments(args.set_dir)
    test_instrument = np.array([instrument.get(str(s), "") for s in test.source])
    for inst in sorted(set(instrument.values())):
        groups[f"real {inst} rows"] = test_instrument == inst
    # Every row of each instrument (all splits): fair only for a model that never saw it.
    every = {
        inst: data.subset(
            np.isin(data.source.astype(str), [u for u, i in instrument.items() if i == inst])
        )
        for inst in sorted(set(instrument.values()))
    }
    groups["all test"] = np.ones(len(test), bool)
    cutouts = np.asarray(test.cutouts, np.float32)
    real = test.label == 1
    fading = np.isin(test.kind, FADING_KINDS)
    results: dict[str, dict] = {}
    for spec in args.models:
        name, _, path = spec.partition("=")
        model = RealBogusModel.load(Path(path), threads=2)
        op = float(model.card["operating_threshold"])
        scores = model.score_inputs(cutouts, test.scalars)
        res: dict[str, dict] = {"operating_threshold": {"value": op}}
        for group, sel in groups.items():
            res[group] = _rates(test.label[sel], scores.rb[sel], scores.ood[sel], op)
        for group, sel in (
            ("new sources (positive)", real & ~fading & (test.scalars[:, 0] > 0)),
            ("faded sources (negative)", fading),
        ):
            res[f"recall: {group}"] = {
                "n": int(sel.sum()),
                "recall": float(np.mean(scores.rb[sel] > op)) if sel.any() else float("nan"),
            }
        for lo, hi in OOD_BANDS:
            band = (scores.ood >= lo) & ((scores.ood < hi) if hi < 1 else True)
            res[f"rb where {lo} <= ood < {hi}"] = _rates(
                test.label[band], scores.rb[band], scores.ood[band], op
            )
        outside = groups["undersampled 1.2-2.3 px"] | groups["wide 5-8 px"]
        inside = groups["held-out band 3.2-3.9 px"]
        sel = outside | inside
        res["ood: undersampled+wide vs held-out band"] = {
            "auroc": roc_auc(outside[sel].astype(int), scores.ood[sel]),
        }
        # Leave-one-instrument-out: fair for a model trained without that instrument.
        simulated = test_instrument == ""
        for inst, rows in every.items():
            seen = model.score_inputs(np.asarray(rows.cutouts, np.float32), rows.scalars)
            res[f"real {inst}, all splits"] = _rates(rows.label, seen.rb, seen.ood, op)
            ood = np.concatenate([seen.ood, scores.ood[simulated]])
            is_inst = np.r_[np.ones(len(rows)), np.zeros(int(simulated.sum()))].astype(int)
            res[f"ood: real {inst} (all splits) vs simulated test"] = {
                "auroc": roc_auc(is_inst, ood)
            }
        for how in ("centre31", "edge16"):
            cut = model.score_inputs(partial(cutouts, how), test.scalars)
            res[f"partial {how}"] = _rates(test.label, cut.rb, cut.ood, op)
        results[name] = res
    names = list(results)
    lines = [
        machine_line(
            "python benchmarks/realbogus_domains.py "
            + f"{args.set_dir.name} "
            + " ".join(f"{n}=…" for n in names)
        ),
        "",
        f"Test split of training set `{data.digest[:16]}`: {len(test)} candidates "
        f"({int(real.sum())} real, {int((~real).sum())} bogus). Each model at its own "
        "operating point: "
        + ", ".join(f"{n} rb > {results[n]['operating_threshold']['value']:.3f}" for n in names)
        + ".",
        "",
        "| group | measure | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for group in results[names[0]]:
        if group == "operating_threshold":
            continue
        for measure in results[names[0]][group]:
            values = [results[n][group][measure] for n in names]
            shown = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in values]
            lines.append(f"| {group} | {measure} | " + " | ".join(shown) + " |")
    write_report(lines, args.out)
    if args.out:
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
