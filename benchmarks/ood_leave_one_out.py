"""Leave-one-kind-out: does ``ood`` flag an artifact kind the model never saw?

For each kind K: train the real/bogus model with every K candidate removed from the
training and validation splits (so neither the network nor the OOD calibration has seen
K), then on the test split measure the AUROC with which ``ood`` (and each component, and
``1 − rb``) separates K's candidates from the in-distribution candidates (every other
kind, real and bogus), the fraction of K flagged at ``ood > 0.99`` and ``> 0.95``, the
false-flag rate of the in-distribution test candidates at those thresholds, and how many
K candidates the classifier still rejects (rb below the operating point).

    python benchmarks/ood_leave_one_out.py --set DIR [--kinds satellite_trail,cosmic_ray]
        [--epochs 6] [--epoch-size 15000] [--append]

DIR is a training set folder (``astrid train`` builds one under DATA_DIR/training).
Writes docs/results/ood_leave_one_out.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def run_kind(data: Any, kind: str, epochs: int, epoch_size: int, seed: int) -> dict[str, Any]:
    from astrid.detection.ood import ood_scores
    from astrid.training.metrics import roc_auc
    from astrid.training.train_realbogus import (
        RealBogusTrainConfig,
        evaluate_split,
        predict,
        train_realbogus,
    )

    config = RealBogusTrainConfig(
        epochs=epochs, epoch_size=epoch_size, seed=seed, exclude_kinds=(kind,)
    )
    start = time.perf_counter()
    trained = train_realbogus(data, config)
    val = data.subset((data.split == "val") & (data.kind != kind))
    val_metrics = evaluate_split(predict(trained.model, val), val, trained.calibration)
    threshold = val_metrics["threshold_at_fpr_1pct"]
    test = data.subset(data.split == "test")
    out = predict(trained.model, test)
    scores = ood_scores(out["logits"], out["mahalanobis"], trained.calibration)
    unseen = test.kind == kind
    known = ~unseen
    result: dict[str, Any] = {
        "kind": kind,
        "n_unseen": int(unseen.sum()),
        "n_in_distribution": int(known.sum()),
        "train_seconds": round(time.perf_counter() - start, 1),
        "in_distribution_test_auc": roc_auc(test.label[known], out["rb"][known]),
    }
    for name in ("ood", "ood_msp", "ood_energy", "ood_mahalanobis"):
        result[f"auroc_{name}"] = roc_auc(unseen[:].astype(int), scores[name])
    result["auroc_1_minus_rb"] = roc_auc(unseen.astype(int), 1 - out["rb"])
    for t in (0.95, 0.99):
        result[f"unseen_flagged_{t}"] = float(np.mean(scores["ood"][unseen] > t))
        result[f"in_distribution_flagged_{t}"] = float(np.mean(scores["ood"][known] > t))
    result["unseen_rejected_by_rb"] = float(np.mean(out["rb"][unseen] <= threshold))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", required=True, type=Path, help="training set folder")
    parser.add_argument("--kinds", default="satellite_trail,cosmic_ray,dipole")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--epoch-size", type=int, default=15_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs/results/ood_leave_one_out.json")
    parser.add_argument(
        "--append", action="store_true", help="add to (or replace kinds in) an existing --out"
    )
    args = parser.parse_args(argv)

    from astrid.training.training_set import load_training_set

    data = load_training_set(args.set)
    rows = []
    for kind in args.kinds.split(","):
        row = run_kind(data, kind, args.epochs, args.epoch_size, args.seed)
        rows.append(row)
        print(
            f"{kind:16s} n={row['n_unseen']:5d}  AUROC ood {row['auroc_ood']:.3f} "
            f"(msp {row['auroc_ood_msp']:.3f}, energy {row['auroc_ood_energy']:.3f}, "
            f"maha {row['auroc_ood_mahalanobis']:.3f}; 1-rb {row['auroc_1_minus_rb']:.3f})  "
            f"flagged@0.99 {row['unseen_flagged_0.99']:.3f} vs in-dist "
            f"{row['in_distribution_flagged_0.99']:.3f}  rejected by rb "
            f"{row['unseen_rejected_by_rb']:.3f}",
            flush=True,
        )
    commands = ["python benchmarks/ood_leave_one_out.py " + " ".join(argv or sys.argv[1:])]
    if args.append and args.out.is_file():
        earlier = json.loads(args.out.read_text())
        done = {row["kind"] for row in rows}
        rows = [row for row in earlier["kinds"] if row["kind"] not in done] + rows
        commands = earlier.get("commands", [earlier.get("command", "")]) + commands
    result = {
        "commands": commands,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "set": str(args.set),
        "set_digest": data.digest,
        "epochs": args.epochs,
        "epoch_size": args.epoch_size,
        "kinds": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
