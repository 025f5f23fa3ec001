"""Run `astrid evaluate` on the real GOTO pair and on simulated fields; collect the results.

For each pair this calls the CLI exactly as a user would (one subprocess per run), then
copies the summary and the plots into docs/results/evaluation/ and writes one combined
JSON (docs/results/evaluation.json) with the machine it ran on.

    python benchmarks/evaluation.py                       # GOTO seeds 0-2, sims 2048² seeds 0-1
    python benchmarks/evaluation.py --goto-seeds 0 --sim-seeds --n-fakes 100   # quick

The simulated pairs are the ones `astrid demo --size N --seed S` writes (its inputs/).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PLOTS = ("completeness_snr.png", "completeness_mag.png", "residuals.png")


def goto_pair() -> tuple[Path, Path]:
    """(reference, science) of the real GOTO frames shipped in the zogyp wheel."""
    import zogyp

    base = Path(zogyp.__file__).parent / "test"
    return base / "1.fits", base / "2.fits"


def simulated_pair(workdir: Path, size: int, seed: int) -> tuple[Path, Path]:
    """Write the `astrid demo` pair for (size, seed) and return (reference, science)."""
    out = workdir / f"sim{size}_{seed}"
    _astrid("demo", "--out", str(out), "--size", str(size), "--seed", str(seed))
    return out / "inputs" / "reference.fits", out / "inputs" / "science.fits"


def _astrid(*args: str) -> None:
    command = [sys.executable, "-m", "astrid.cli", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


def evaluate(
    name: str, reference: Path, science: Path, *, n_fakes: int, seed: int, workdir: Path
) -> dict[str, Any]:
    """Run `astrid evaluate` once; copy its summary and plots to docs/results/evaluation."""
    out = workdir / name
    start = time.perf_counter()
    _astrid(
        "evaluate",
        "--reference",
        str(reference),
        str(science),
        "--n-fakes",
        str(n_fakes),
        "--seed",
        str(seed),
        "--out",
        str(out),
    )
    seconds = time.perf_counter() - start
    summary = json.loads((out / "summary.json").read_text())
    target = ROOT / "docs" / "results" / "evaluation"
    target.mkdir(parents=True, exist_ok=True)
    for plot in PLOTS:
        shutil.copy(out / plot, target / f"{name}_{plot}")
    summary["seconds"] = seconds
    summary["science"] = Path(summary["science"]).name
    summary["reference"] = Path(summary["reference"]).name
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goto-seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--sim-seeds", type=int, nargs="*", default=[0, 1])
    parser.add_argument("--sim-size", type=int, default=2048)
    parser.add_argument("--n-fakes", type=int, default=500)
    parser.add_argument("--json", type=Path, default=ROOT / "docs/results/evaluation.json")
    args = parser.parse_args()

    results: dict[str, Any] = {
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "load_before": os.getloadavg(),
        "command": " ".join(["python", *sys.argv]),
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        reference, science = goto_pair()
        for seed in args.goto_seeds:
            name = f"goto_seed{seed}"
            results["runs"][name] = evaluate(
                name, reference, science, n_fakes=args.n_fakes, seed=seed, workdir=workdir
            )
        for seed in args.sim_seeds:
            reference, science = simulated_pair(workdir, args.sim_size, seed)
            name = f"sim{args.sim_size}_seed{seed}"
            results["runs"][name] = evaluate(
                name, reference, science, n_fakes=args.n_fakes, seed=seed, workdir=workdir
            )
    results["load_after"] = os.getloadavg()
    args.json.write_text(json.dumps(results, indent=1, default=float))

    keys = (
        "completeness",
        "optimum",
        "efficiency_vs_optimum",
        "mag_50",
        "mag_90",
        "false_candidates_per_frame",
        "false_candidates_per_deg2",
        "flux_ratio_median_snr_ge_20",
        "astrometry_rms_arcsec_snr_ge_20",
        "seconds",
    )
    print(f"{'run':<18}" + "".join(f"{k[:14]:>16}" for k in keys))
    for name, summary in results["runs"].items():
        cells = "".join(f"{summary.get(k, float('nan')):>16.3f}" for k in keys)
        print(f"{name:<18}{cells}")
    print(f"written {args.json}")


if __name__ == "__main__":
    main()
