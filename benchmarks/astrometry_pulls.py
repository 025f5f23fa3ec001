"""Are the candidates' position errors right? Pulls against the truth on simulated fields.

For each seed, a simulated 2048² field (1200 stars, 300 galaxies, 500 transients of which
120 on galaxies) is prepared and differenced as `astrid run` does (`prepare_pair`,
`subtract`); each injected transient of SNR ≥ 20 is matched to the nearest candidate
within 2 px, and its pull (measured − true position) / quoted error (``x_err``, ``y_err``)
is collected per axis. A right error gives pulls of width 1 (issue 18: 1 ± 0.1); the
robust width (1.4826 × the median absolute pull) and the standard deviation are reported
for all of them, those on empty sky and those on galaxies, with the RMS offset in pixels.

    python benchmarks/astrometry_pulls.py [--seeds 0 1 2] [--out docs/results/astrometry_pulls.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from astrid.difference.subtract import SubtractConfig, subtract
from astrid.preprocess.pair import PrepareConfig, prepare_pair
from astrid.simulation import SimulationConfig, simulate_pair

FIELD = SimulationConfig(
    shape=(2048, 2048), n_stars=1200, n_galaxies=300, n_transients=500, n_transients_on_galaxies=120
)


def _pulls(seed: int) -> dict[str, np.ndarray]:
    sim = simulate_pair(FIELD, seed=seed)
    pair = prepare_pair(sim.science, sim.reference, PrepareConfig())
    candidates = subtract(pair, SubtractConfig()).candidates
    kinds = np.asarray(sim.truth["kind"]).astype(str)
    truth = sim.truth[np.char.startswith(kinds, "transient")]
    found = np.column_stack([candidates["x"], candidates["y"]])
    distance, index = cKDTree(found).query(np.column_stack([truth["x"], truth["y"]]))
    keep = (distance < 2.0) & (np.asarray(truth["snr"], float) >= 20)
    out = {"kind": np.asarray(truth["kind"]).astype(str)[keep]}
    for axis in ("x", "y"):
        offset = np.asarray(candidates[axis], float)[index[keep]] - np.asarray(truth[axis])[keep]
        out[f"{axis}_offset"] = offset
        out[f"{axis}_pull"] = offset / np.asarray(candidates[f"{axis}_err"], float)[index[keep]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", type=Path, default=Path("docs/results/astrometry_pulls.json"))
    args = ap.parse_args()
    runs = [_pulls(seed) for seed in args.seeds]
    merged = {key: np.concatenate([run[key] for run in runs]) for key in runs[0]}
    groups = {
        "all": np.ones(len(merged["kind"]), bool),
        "empty sky": merged["kind"] == "transient",
        "on galaxies": merged["kind"] == "transient_on_galaxy",
    }
    rows = {}
    for name, selected in groups.items():
        row: dict[str, float | int] = {"n": int(selected.sum())}
        for axis in ("x", "y"):
            pull = merged[f"{axis}_pull"][selected]
            pull = pull[np.isfinite(pull)]
            row[f"{axis}_robust_width"] = float(1.4826 * np.median(np.abs(pull)))
            row[f"{axis}_std"] = float(np.std(pull))
            row[f"{axis}_mean"] = float(np.mean(pull))
            row[f"{axis}_rms_offset_px"] = float(
                np.sqrt(np.mean(merged[f"{axis}_offset"][selected] ** 2))
            )
        rows[name] = row
        print(name, json.dumps(row))
    result = {
        "machine": f"{platform.node()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}",
        "command": "python " + " ".join(sys.argv),
        "seeds": args.seeds,
        "pulls_snr_ge_20": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
