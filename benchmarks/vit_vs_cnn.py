"""Backbone comparison: the real/bogus CNN against a small vision transformer, same data.

Both are trained with the same recipe (`RealBogusTrainConfig` except ``backbone``), calibrated on
validation and scored on the held-out test split; the model file is not touched.

    python benchmarks/vit_vs_cnn.py --set DIR [--epochs 6] [--epoch-size 15000]

Writes docs/results/vit_vs_cnn.json and prints a table.
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

ROOT = Path(__file__).resolve().parents[1]


def run(data: Any, backbone: str, epochs: int, epoch_size: int, seed: int) -> dict[str, Any]:
    import torch

    from astrid.training.train_realbogus import (
        RealBogusTrainConfig,
        evaluate_split,
        predict,
        train_realbogus,
    )

    config = RealBogusTrainConfig(
        epochs=epochs, epoch_size=epoch_size, seed=seed, backbone=backbone
    )
    trained = train_realbogus(data, config)
    val = data.subset(data.split == "val")
    test = data.subset(data.split == "test")
    val_m = evaluate_split(predict(trained.model, val), val, trained.calibration)
    start = time.perf_counter()
    scores = predict(trained.model, test)
    seconds = time.perf_counter() - start
    test_m = evaluate_split(
        scores, test, trained.calibration, threshold=val_m["threshold_at_fpr_1pct"]
    )
    keys = ("auc", "fnr_at_fpr_1pct", "fpr_at_fnr_1pct", "fpr_at_operating", "fnr_at_operating")
    return {
        "backbone": backbone,
        "parameters": sum(p.numel() for p in trained.model.net.parameters()),
        "train_seconds": round(trained.seconds, 1),
        "epochs_run": len(trained.history),
        "val": {k: val_m[k] for k in keys} | {"ece": val_m["reliability"]["ece"]},
        "test": {k: test_m[k] for k in keys} | {"ece": test_m["reliability"]["ece"]},
        "test_per_kind_called_real": {k: v["called_real"] for k, v in test_m["per_kind"].items()},
        "torch_candidates_per_s": round(len(test) / seconds, 1),
        "torch_threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", required=True, type=Path, help="training set folder")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--epoch-size", type=int, default=15_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backbones", default="cnn,vit")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/results/vit_vs_cnn.json")
    args = parser.parse_args(argv)

    from astrid.training.training_set import load_training_set

    data = load_training_set(args.set)
    rows = []
    for backbone in args.backbones.split(","):
        row = run(data, backbone, args.epochs, args.epoch_size, args.seed)
        rows.append(row)
        v, t = row["val"], row["test"]
        print(
            f"{backbone:4s} {row['parameters']:7d} params {row['train_seconds']:7.1f} s  "
            f"val AUC {v['auc']:.4f} FNR@FPR1% {v['fnr_at_fpr_1pct']:.4f} | test AUC "
            f"{t['auc']:.4f} FNR@FPR1% {t['fnr_at_fpr_1pct']:.4f} FPR@FNR1% "
            f"{t['fpr_at_fnr_1pct']:.4f} ECE {t['ece']:.4f}  {row['torch_candidates_per_s']}/s",
            flush=True,
        )
    result = {
        "command": "python benchmarks/vit_vs_cnn.py " + " ".join(argv or sys.argv[1:]),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "set_digest": data.digest,
        "epochs": args.epochs,
        "epoch_size": args.epoch_size,
        "rows": rows,
        "better_on_val": min(rows, key=lambda r: r["val"]["fnr_at_fpr_1pct"])["backbone"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
