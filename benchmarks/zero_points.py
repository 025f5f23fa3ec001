"""Zero points from a reference catalogue against the truth, and the magnitudes they give.

Per seed: the default simulated field (2048², 1500 stars, 300 galaxies, 250 transients,
artifacts) with the zero point (``MAGZP``) removed from both headers. Its stars become a
reference catalogue — true magnitudes plus 0.02 mag Gaussian noise, 5 % of the stars off
by 0.5–1 mag (variables, blends, mismatches) — in two versions: the frame's own band, and a
catalogue band that differs by a colour term ``0.10 (g − r)`` with g − r drawn from
N(0.6, 0.3). `prepare_pair` calibrates the science frame against each
(`astrid.preprocess.zero_point`), `subtract` measures the transients, and:

* ``ZP − truth``: the truth is the simulator's zero point (for the colour-term catalogue,
  plus 0.10 × the median colour the zero point is quoted at) — the accuracy target is
  ≤ 0.02 mag;
* the pull ``(ZP − truth) / error``, over all seeds and both catalogues (its width should be
  about 1);
* the median and robust scatter of ``mag − true mag`` of transients with true SNR ≥ 20
  (candidate magnitudes from the calibrated zero point): what a user sees.

    python benchmarks/zero_points.py [--seeds 0 1 2 3 4] [--size 2048] [--out FILE.md]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from markdown_report import machine_line, write_report

from astrid.difference.subtract import subtract
from astrid.evaluation.scoring import match_to_truth
from astrid.preprocess.pair import prepare_pair
from astrid.preprocess.photometric_catalogue import photometric_catalogue_from_table
from astrid.preprocess.zero_point import PhotometricCatalogue
from astrid.simulation import SimulatedPair, SimulationConfig, simulate_pair
from astrid.simulation.config import SCIENCE_ZERO_POINT
from astrid.simulation.reference_stars import reference_star_table

NOISE_MAG = 0.02
OUTLIER_FRACTION = 0.05
COLOUR_TERM = 0.10


def catalogue(truth: Table, seed: int, colour_term: float | None) -> PhotometricCatalogue:
    """The stars' true magnitudes with noise, outliers and (optionally) a colour term."""
    table = reference_star_table(
        truth, seed=seed, noise=NOISE_MAG, outliers=OUTLIER_FRACTION, colour_term=colour_term
    )
    return photometric_catalogue_from_table(table, "r", "truth catalogue")


def _bare(sim: SimulatedPair) -> SimulatedPair:
    science = replace(sim.science, meta=replace(sim.science.meta, zero_point=None))
    reference = replace(sim.reference, meta=replace(sim.reference.meta, zero_point=None))
    return replace(sim, science=science, reference=reference)


def one_case(sim: SimulatedPair, cat: PhotometricCatalogue, colour_term: float | None) -> dict:
    bare = _bare(sim)
    pair = prepare_pair(bare.science, bare.reference, catalogue=cat)
    cal = pair.calibration
    if cal is None:
        raise SystemExit("calibration failed on a simulated field")
    truth = SCIENCE_ZERO_POINT
    if colour_term is not None and cal.colour_zero is not None:
        truth += colour_term * cal.colour_zero
    sub = subtract(pair)
    score = match_to_truth(sim.truth, sub.candidates)
    found = np.asarray(score["found"], bool)
    kinds = np.char.startswith(np.asarray(sim.truth["kind"]).astype(str), "transient")
    tr = sim.truth[kinds]
    # the candidate each found transient matched (nearest on the sky, as the scorer does)
    cands = sub.candidates
    idx, _, _ = SkyCoord(tr["ra"], tr["dec"], unit="deg").match_to_catalog_sky(
        SkyCoord(cands["ra"], cands["dec"], unit="deg")
    )
    bright = found & (np.asarray(tr["snr"], float) >= 20)
    true_mag = SCIENCE_ZERO_POINT - 2.5 * np.log10(np.asarray(tr["flux"], float)[bright])
    if colour_term is not None and cal.colour_zero is not None:
        true_mag += colour_term * cal.colour_zero  # a transient of the median colour
    dmag = np.asarray(cands["mag"], float)[idx[bright]] - true_mag
    dmag = dmag[np.isfinite(dmag)]
    return {
        "zp": cal.value,
        "error": cal.error,
        "stars": cal.n_stars,
        "scatter": cal.scatter,
        "colour_term": cal.colour_term,
        "diff": cal.value - truth,
        "pull": (cal.value - truth) / cal.error,
        "dmag_median": float(np.median(dmag)),
        "dmag_scatter": float(1.4826 * np.median(np.abs(dmag - np.median(dmag)))),
        "n_transients": int(dmag.size),
        "seconds": pair.stats["seconds_zero_point"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    scale = (args.size / 2048) ** 2
    config = SimulationConfig(
        shape=(args.size, args.size),
        n_stars=int(1500 * scale),
        n_galaxies=int(300 * scale),
        n_transients=int(200 * scale),
        n_transients_on_galaxies=int(50 * scale),
    )
    rows: list[dict[str, Any]] = []
    for seed in args.seeds:
        sim = simulate_pair(config, seed=seed)
        for label, term in (("same band", None), ("colour term 0.10", COLOUR_TERM)):
            row = one_case(sim, catalogue(sim.truth, seed, term), term)
            row |= {"seed": seed, "catalogue": label}
            rows.append(row)
            print(row, flush=True)

    command = "python benchmarks/zero_points.py --seeds " + " ".join(map(str, args.seeds))
    if args.size != 2048:
        command += f" --size {args.size}"
    lines = [
        machine_line(command),
        "",
        "| seed | catalogue | ZP − truth (mag) | error (mag) | pull | stars | scatter (mag) "
        "| colour term | transients SNR ≥ 20: median mag − true | robust scatter | n | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        k = "—" if r["colour_term"] is None else f"{r['colour_term']:.3f}"
        lines.append(
            f"| {r['seed']} | {r['catalogue']} | {r['diff']:+.4f} | {r['error']:.4f} "
            f"| {r['pull']:+.2f} | {r['stars']} | {r['scatter']:.3f} | {k} "
            f"| {r['dmag_median']:+.4f} | {r['dmag_scatter']:.3f} | {r['n_transients']} "
            f"| {r['seconds']:.2f} |"
        )
    diffs = np.array([r["diff"] for r in rows])
    pulls = np.array([r["pull"] for r in rows])
    dmag = np.array([r["dmag_median"] for r in rows])
    lines += [
        "",
        f"Largest |ZP − truth|: {np.max(np.abs(diffs)):.4f} mag (target ≤ 0.02); RMS "
        f"{np.sqrt(np.mean(diffs**2)):.4f} mag; pull standard deviation "
        f"{np.std(pulls, ddof=1):.2f} over {len(pulls)} calibrations; largest |median "
        f"mag − true| of bright transients {np.max(np.abs(dmag)):.4f} mag.",
    ]
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
