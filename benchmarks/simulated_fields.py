"""Detection quality on simulated fields with known injections (several seeds).

Usage: python benchmarks/simulated_fields.py [--size 2048] [--seeds 0 1 2 3 4]
                                              [--out docs/results] [--keep-csv DIR]
                                              [--fwhm LO HI]

``--fwhm LO HI`` sets the science PSF's FWHM at the chip centre and corners (px; the
reference's is 0.85 of it), e.g. ``--fwhm 1.2 1.35`` for an undersampled camera; the
result file is then named ``simulated_fields_<size>_fwhm<LO>``.

For each seed: simulate a field (PSF varying across the chip, stars, galaxies, transients
on empty sky and on galaxies, variables, cosmic rays, hot pixels, bad columns, saturated
stars), run preprocess + ZOGY + candidate measurement, and score against the truth with
the reference definitions (completeness per SNR bin vs Φ(SNR − 5), bogus, flux, astrometry).
Three optima are reported: the scorer's Φ(SNR − 5), whose SNR counts the science image's
sky noise only; the same with the reference's noise (its depth); and Φ(snr_total − 5),
whose S/N counts all the noise at each transient's place in both images — sky, read noise,
a host galaxy's or neighbouring star's photons — with ZOGY's optimal weighting of a sharper
reference (the simulator's ``snr_total``, `astrid.simulation.placement.total_noise_snr`):
the best any difference image can do.
With --keep-csv the truth and candidate CSVs are written so ``shared/eval/score.py`` can
check the numbers independently. Writes ``<out>/simulated_fields.json`` and a PNG plot.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import itertools

import matplotlib.pyplot as plt
import numpy as np
from astropy.table import vstack
from scipy.stats import norm

from astrid.difference.subtract import subtract
from astrid.evaluation.scoring import SNR_BINS, match_to_truth
from astrid.preprocess.pair import prepare_pair
from astrid.simulation import SimulationConfig, simulate_pair


def _binomial_error(p: float, n: int) -> float:
    return float(np.sqrt(max(p * (1 - p), 1 / n) / n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--out", type=Path, default=Path("docs/results"))
    ap.add_argument("--keep-csv", type=Path, default=None)
    ap.add_argument("--fwhm", type=float, nargs=2, default=None, metavar=("LO", "HI"))
    args = ap.parse_args()
    scale = (args.size / 2048) ** 2
    psf = {}
    if args.fwhm is not None:
        lo, hi = args.fwhm
        psf = {"science_fwhm": (lo, hi), "reference_fwhm": (0.85 * lo, 0.85 * hi)}
    config = SimulationConfig(
        **psf,  # type: ignore[arg-type]
        shape=(args.size, args.size),
        n_stars=int(1500 * scale),
        n_galaxies=int(300 * scale),
        n_transients=int(200 * scale),
        n_transients_on_galaxies=int(50 * scale),
    )
    per_seed = []
    truths, founds = [], []
    for seed in args.seeds:
        sim = simulate_pair(config, seed=seed)
        start = time.perf_counter()
        pair = prepare_pair(sim.science, sim.reference)
        sub = subtract(pair)
        seconds = time.perf_counter() - start
        score = match_to_truth(sim.truth, sub.candidates)
        kinds = np.asarray([str(k) for k in sim.truth["kind"]])
        transients = sim.truth[np.char.startswith(kinds, "transient")]
        transients.meta = {}
        transients["found"] = np.asarray(score["found"], bool)
        transients["scorr_std"] = float(sub.stats["scorr_std"])
        truths.append(transients)
        founds.append(score["found"])
        bogus = np.asarray(score["bogus_mask"], bool)
        row = {k: v for k, v in score.items() if k not in ("found", "bogus_mask")}
        row.update(
            seed=seed,
            seconds=seconds,
            n_bogus_positive=int((bogus & (np.asarray(sub.candidates["sign"]) > 0)).sum()),
            scorr_std=sub.stats["scorr_std"],
            scorr_mean=sub.stats["scorr_mean"],
            scorr_noise_scale=sub.stats["scorr_noise_scale"],
            align_rms=float(np.hypot(*pair.alignment.residual_rms)),
            flux_ratio_error=pair.flux_ratio.ratio / sim.config.reference_flux_scale - 1,
        )
        per_seed.append(row)
        print(
            f"seed {seed}: eff {row['efficiency_vs_optimum']:.3f}  "
            f"compl {row['completeness_all']:.3f}/{row['optimum_all']:.3f}  "
            f"bogus {row['n_bogus']}  flux {row.get('flux_ratio_median_snr_ge_20', np.nan):.4f}  "
            f"astrom {row.get('astrometry_rms_arcsec_snr_ge_20', np.nan):.3f}″  "
            f"S_corr std {row['scorr_std']:.3f}  {seconds:.1f} s",
            flush=True,
        )
        if args.keep_csv is not None:
            directory = args.keep_csv / f"seed{seed}"
            directory.mkdir(parents=True, exist_ok=True)
            sim.truth[["kind", "ra", "dec", "x", "y", "flux", "snr"]].write(
                directory / "truth.csv", overwrite=True
            )
            sub.candidates.write(directory / "candidates.csv", overwrite=True)

    allt = vstack(truths)
    snr = np.asarray(allt["snr"], float)
    snr_total = np.asarray(allt["snr_total"], float)
    found = np.asarray(allt["found"], bool)
    on_galaxy = np.asarray([str(k) == "transient_on_galaxy" for k in allt["kind"]])
    bins = []
    for lo, hi in itertools.pairwise(SNR_BINS):
        m = (snr >= lo) & (snr < hi)
        if m.any():
            bins.append(
                {
                    "snr": f"{lo}-{hi}",
                    "n": int(m.sum()),
                    "completeness": float(found[m].mean()),
                    "optimum": float(norm.cdf(snr[m] - 5).mean()),
                    "optimum_all_noise": float(norm.cdf(snr_total[m] - 5).mean()),
                }
            )
    summary = {
        "machine": f"{platform.node()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}",
        "command": "python benchmarks/simulated_fields.py --size "
        f"{args.size} --seeds {' '.join(map(str, args.seeds))}"
        + (f" --fwhm {args.fwhm[0]:g} {args.fwhm[1]:g}" if args.fwhm else ""),
        "config": {k: str(v) for k, v in vars(config).items()},
        "per_seed": per_seed,
        "pooled_bins": bins,
        "pooled_efficiency": float(found.mean() / norm.cdf(snr - 5).mean()),
        "pooled_completeness": float(found.mean()),
        # The scorer's optimum ignores the reference's own noise; with a reference
        # `reference_depth` times deeper the matched filter loses 1/sqrt(1 + 1/depth²).
        "pooled_optimum_with_reference_noise": float(
            norm.cdf(snr / np.sqrt(1 + 1 / config.reference_depth**2) - 5).mean()
        ),
        "pooled_optimum": float(norm.cdf(snr - 5).mean()),
        "mean_bogus_per_frame": float(np.mean([r["n_bogus"] for r in per_seed])),
        "mean_bogus_positive_per_frame": float(np.mean([r["n_bogus_positive"] for r in per_seed])),
        "mean_flux_ratio_snr_ge_20": float(
            np.mean([r["flux_ratio_median_snr_ge_20"] for r in per_seed])
        ),
        "mean_astrometry_rms_arcsec_snr_ge_20": float(
            np.mean([r["astrometry_rms_arcsec_snr_ge_20"] for r in per_seed])
        ),
    }
    summary["pooled_efficiency_vs_reference_aware_optimum"] = (
        summary["pooled_completeness"] / summary["pooled_optimum_with_reference_noise"]
    )
    # Against the S/N of all the noise at each place (both images, hosts' photons).
    summary["pooled_optimum_all_noise"] = float(norm.cdf(snr_total - 5).mean())
    summary["pooled_efficiency_vs_all_noise_optimum"] = (
        summary["pooled_completeness"] / summary["pooled_optimum_all_noise"]
    )
    # S_corr's measured spread s (a little above 1) makes |S_corr| ≥ 5 a cut at 5/s true σ:
    # the optimum of that cut is Φ(snr_total − 5/s), the efficiency without its help.
    scale = np.asarray(allt["scorr_std"], float)
    summary["pooled_optimum_all_noise_same_cut"] = float(norm.cdf(snr_total - 5 / scale).mean())
    summary["pooled_efficiency_vs_all_noise_optimum_same_cut"] = (
        summary["pooled_completeness"] / summary["pooled_optimum_all_noise_same_cut"]
    )
    for name, sel in (("empty_sky", ~on_galaxy), ("on_galaxies", on_galaxy)):
        summary[f"{name}_efficiency_vs_optimum"] = float(
            found[sel].mean() / norm.cdf(snr[sel] - 5).mean()
        )
        summary[f"{name}_efficiency_vs_all_noise_optimum"] = float(
            found[sel].mean() / norm.cdf(snr_total[sel] - 5).mean()
        )
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"simulated_fields_{args.size}" + (f"_fwhm{args.fwhm[0]:g}" if args.fwhm else "")
    (args.out / f"{stem}.json").write_text(json.dumps(summary, indent=1, default=float))
    fig, ax = plt.subplots(figsize=(6, 4))
    grid = np.linspace(2, 60, 300)
    ax.plot(grid, norm.cdf(grid - 5), color="0.5", label="optimum Φ(SNR − 5)")
    depth = config.reference_depth
    ax.plot(
        grid,
        norm.cdf(grid / np.sqrt(1 + 1 / depth**2) - 5),
        color="0.5",
        ls="--",
        label=f"same, with the reference's noise ({depth:g}× deeper)",
    )
    mids = [np.sqrt(float(b["snr"].split("-")[0]) * float(b["snr"].split("-")[1])) for b in bins]
    ax.errorbar(
        mids,
        [b["completeness"] for b in bins],
        yerr=[
            np.sqrt(max(b["completeness"] * (1 - b["completeness"]), 1 / b["n"]) / b["n"])
            for b in bins
        ],
        fmt="o",
        label=f"AstrID ({len(args.seeds)} fields, {len(allt)} injections)",
    )
    ax.set_xscale("log")
    ax.set_xticks([3, 5, 10, 20, 40])
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.minorticks_off()
    ax.set_xlabel("injected matched-filter SNR")
    ax.set_ylabel("completeness at |S_corr| ≥ 5")
    ax.set_title(f"Simulated {args.size}² fields, PSF varying")
    ax.legend(loc="center right", fontsize=8)
    fig.savefig(args.out / f"{stem}.png", dpi=100, bbox_inches="tight")
    print(
        f"pooled efficiency {summary['pooled_efficiency']:.3f} (vs all-noise optimum "
        f"{summary['pooled_efficiency_vs_all_noise_optimum']:.3f}), bogus/frame "
        f"{summary['mean_bogus_per_frame']:.1f}; wrote {args.out / (stem + '.json')}"
    )


if __name__ == "__main__":
    main()
