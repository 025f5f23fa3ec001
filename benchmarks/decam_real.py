"""Real DECam frames (shared/data/decam): differences of frames of the same field.

Usage: python benchmarks/decam_real.py [--data ../shared/data/decam] [--out docs/results]

Each group (OBS04, OBS18) holds five frames of one field in different seeing; every frame
is differenced against the group's best-seeing frame. Nothing is known to change, so the
candidates are false alarms (or real variability) and S_corr should be unit-variance
noise away from stars. Writes ``<out>/decam_real.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from astrid.difference.subtract import subtract
from astrid.observations.fits_reader import read_image
from astrid.preprocess.pair import prepare_pair


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/decam"))
    ap.add_argument("--out", type=Path, default=Path("docs/results"))
    args = ap.parse_args()
    rows = []
    for group in ("DEC-OBS04", "DEC-OBS18"):
        frames = sorted(args.data.glob(f"{group}?.fits"))
        images = [read_image(p) for p in frames]
        best = min(images, key=lambda im: im.meta.fwhm or 99.0)
        for image in images:
            if image is best:
                continue
            pair = prepare_pair(image, best)
            sub = subtract(pair)
            st = {**pair.stats, **sub.stats}
            row = {
                "science": image.meta.name,
                "reference": best.meta.name,
                "science_fwhm_header": image.meta.fwhm,
                "reference_fwhm_header": best.meta.fwhm,
                "n_candidates": len(sub.candidates),
                "n_positive": int((sub.candidates["sign"] > 0).sum()),
                "align_rms_px": (st["align_rms_x"] ** 2 + st["align_rms_y"] ** 2) ** 0.5,
                "matched_stars": st["align_matched"],
                "psf_stars": st["science_psf_stars"],
                "flux_ratio": st["flux_ratio"],
                "scorr_mean_raw": st["scorr_mean_raw"],
                "scorr_std_raw": st["scorr_std_raw"],
                "scorr_robust_std_raw": st["scorr_robust_std_raw"],
                "scorr_noise_scale": st["scorr_noise_scale"],
            }
            rows.append(row)
            print(
                f"{row['science']} - {row['reference']}: {row['n_candidates']} candidates, "
                f"S_corr mean {row['scorr_mean_raw']:+.3f} std {row['scorr_std_raw']:.3f} "
                f"(robust {row['scorr_robust_std_raw']:.3f}), align {row['align_rms_px']:.3f} px "
                f"from {row['matched_stars']:.0f} stars"
            )
    result = {
        "machine": f"{platform.node()}, {platform.machine()}, {os.cpu_count()} cores",
        "command": "python benchmarks/decam_real.py",
        "pairs": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decam_real.json").write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
