"""Tables and the reliability plot of a real/bogus model, from its model card.

    python benchmarks/model_report.py [MODEL.onnx]     # default: the shipped model

Writes docs/results/realbogus_card.json (the card without the calibration tables) and
docs/results/realbogus_reliability.png, and prints the markdown tables docs/models.md
quotes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _tables(card: dict[str, Any]) -> str:
    lines = []
    for split in ("val", "test"):
        m = card["metrics"][split]
        lines += [
            f"**{split}** ({m['n_real']} real, {m['n_bogus']} bogus): AUC {m['auc']:.4f}; "
            f"FNR at FPR = 1 % {m['fnr_at_fpr_1pct']:.4f}; FPR at FNR = 1 % "
            f"{m['fpr_at_fnr_1pct']:.4f}; at the operating threshold rb > "
            f"{m['operating_threshold']:.4f}: FPR {m['fpr_at_operating']:.4f}, FNR "
            f"{m['fnr_at_operating']:.4f}; ECE {m['reliability']['ece']:.4f}; "
            f"ood > 0.99 on {m['ood_flag_rate_0.99']:.4f} and > 0.95 on "
            f"{m['ood_flag_rate_0.95']:.4f} of these in-distribution candidates",
            "",
        ]
    test = card["metrics"]["test"]
    lines += ["| kind | n (test) | called real (rb > threshold) |", "|---|---|---|"]
    for kind, row in sorted(test["per_kind"].items()):
        lines.append(f"| {kind} | {row['n']} | {row['called_real']:.4f} |")
    lines += ["", "| true SNR | n | recall |", "|---|---|---|"]
    for row in test["recall_by_snr"]:
        hi = row["snr_hi"] if row["snr_hi"] is not None else "∞"
        recall = "" if row["recall"] is None else f"{row['recall']:.4f}"
        lines.append(f"| {row['snr_lo']}–{hi} | {row['n']} | {recall} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from astrid.detection.realbogus import RealBogusModel

    model = RealBogusModel.load(args[0] if args else None)
    card = model.public_card
    out = ROOT / "docs" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "realbogus_card.json").write_text(json.dumps(card, indent=2) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect")
    for split, style in (("val", "o-"), ("test", "s-")):
        bins = [b for b in card["metrics"][split]["reliability"]["bins"] if b["n"]]
        ax.plot(
            [b["mean_predicted"] for b in bins],
            [b["fraction_real"] for b in bins],
            style,
            ms=4,
            label=f"{split} (ECE {card['metrics'][split]['reliability']['ece']:.3f})",
        )
    ax.set_xlabel("rb (mean in bin)")
    ax.set_ylabel("fraction real")
    ax.set_title(f"reliability of rb, {card['version']}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "realbogus_reliability.png", dpi=120)
    print(_tables(card))
    print(f"throughput: {card['metrics']['throughput_candidates_per_s_2_threads']} candidates/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
