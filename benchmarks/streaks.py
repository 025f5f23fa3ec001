"""False candidates from satellite trails, with and without the streak masks, same run.

For each seed: the default simulated 2048² field (stars, galaxies, 250 transients, cosmic
rays, hot pixels, a bad column) with one satellite trail (1–3σ per pixel, ~3 px wide,
across the whole image) in the science image, and, as a second case, the same field with a
trail painted into the reference instead (`astrid.simulation.add_artifacts`, 5–10σ of the
reference's noise: the reference is 3× deeper, so a 1–3σ trail there would be ~0.5σ in
science units and leave nothing to find). Each pair goes
through `prepare_pair` + `subtract` twice, with `MaskConfig(streaks=False)` and with the
defaults, and is scored against the truth (`astrid.evaluation.scoring.match_to_truth`):
false candidates before any real/bogus cut, how many of them lie within 20 px of a trail,
completeness and efficiency against Φ(SNR − 5), and the streaks found.

    python benchmarks/streaks.py [--seeds 0 1 2] [--size 2048] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from markdown_report import machine_line, write_report

from astrid.difference.subtract import subtract
from astrid.evaluation.scoring import match_to_truth
from astrid.preprocess.masks import MaskConfig
from astrid.preprocess.pair import PrepareConfig, prepare_pair
from astrid.simulation import ArtifactConfig, SimulationConfig, add_artifacts, simulate_pair

NEAR_TRAIL_PX = 20.0


def _trail_distance(
    x: np.ndarray, y: np.ndarray, trails: list[tuple[float, float, float]]
) -> np.ndarray:
    """Distance of each ``(x, y)`` from the nearest infinite line ``(x0, y0, angle)``."""
    out = np.full(len(x), np.inf)
    for x0, y0, phi in trails:
        out = np.minimum(out, np.abs(-(x - x0) * math.sin(phi) + (y - y0) * math.cos(phi)))
    return out


def one_case(
    sim: Any, science: Any, reference: Any, trails: list[tuple[float, float, float]], streaks: bool
) -> dict[str, Any]:
    config = PrepareConfig(masks=MaskConfig(streaks=streaks))
    start = time.perf_counter()
    pair = prepare_pair(science, reference, config)
    sub = subtract(pair)
    seconds = time.perf_counter() - start
    score = match_to_truth(sim.truth, sub.candidates)
    bogus = np.asarray(score["bogus_mask"], bool)
    cx = np.asarray(sub.candidates["x"], float)
    cy = np.asarray(sub.candidates["y"], float)
    near = _trail_distance(cx, cy, trails) < NEAR_TRAIL_PX
    return {
        "bogus": int(bogus.sum()),
        "bogus_near_trail": int((bogus & near).sum()),
        "completeness": float(score["completeness_all"]),
        "efficiency": float(score["efficiency_vs_optimum"]),
        "seconds": seconds,
        "streaks": int(pair.stats["science_streaks"] + pair.stats["reference_streaks"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    scale = (args.size / 2048) ** 2
    base = SimulationConfig(
        shape=(args.size, args.size),
        n_stars=int(1500 * scale),
        n_galaxies=int(300 * scale),
        n_transients=int(200 * scale),
        n_transients_on_galaxies=int(50 * scale),
    )
    rows = []
    for seed in args.seeds:
        # Trail in the science image: the simulator paints it and records its truth.
        sim = simulate_pair(replace(base, n_satellite_trails=1), seed=seed)
        t = sim.truth[sim.truth["kind"] == "satellite_trail"]
        trails = [(float(r["x"]), float(r["y"]), float(r["angle"])) for r in t]
        # Trail in the reference: painted on the reference of the trail-free field.
        clean = simulate_pair(base, seed=seed)
        reference, ref_rows = add_artifacts(
            clean.reference,
            ArtifactConfig(0, 0, 0, 1, trail_sigma=(5.0, 10.0)),
            sigma=clean.config.reference_sigma,
            seed=seed + 1000,
        )
        ref_trails = [(float(r["x"]), float(r["y"]), float(r["angle"])) for r in ref_rows]
        # The trail's place in science pixels, for the distance of the candidates.
        rx, ry = (np.asarray(v) for v in zip(*[(x, y) for x, y, _ in ref_trails], strict=True))
        sx, sy = clean.science.wcs.world_to_pixel_values(
            *clean.reference.wcs.pixel_to_world_values(rx, ry)
        )
        ref_trails_sci = [
            (float(a), float(b), phi) for a, b, (_, _, phi) in zip(sx, sy, ref_trails, strict=True)
        ]
        for case, s, science, ref, lines in (
            ("science", sim, sim.science, sim.reference, trails),
            ("reference", clean, clean.science, reference, ref_trails_sci),
        ):
            for streaks in (False, True):
                row = one_case(s, science, ref, lines, streaks)
                row |= {"seed": seed, "trail_in": case, "streak_masks": streaks}
                rows.append(row)
                print(row, flush=True)

    command = "python benchmarks/streaks.py --seeds " + " ".join(map(str, args.seeds))
    if args.size != 2048:
        command += f" --size {args.size}"
    lines = [
        machine_line(command),
        "",
        "| seed | trail in | streak masks | false candidates | … within 20 px of the trail "
        "| streaks found | completeness | efficiency vs Φ(SNR−5) | s / pair |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['seed']} | {r['trail_in']} | {'on' if r['streak_masks'] else 'off'} "
            f"| {r['bogus']} | {r['bogus_near_trail']} | {r['streaks']} | {r['completeness']:.3f} "
            f"| {r['efficiency']:.3f} | {r['seconds']:.1f} |"
        )
    for case in ("science", "reference"):
        for on in (False, True):
            sel = [r for r in rows if r["trail_in"] == case and r["streak_masks"] == on]
            lines.append(
                f"\nTrail in the {case}, masks {'on' if on else 'off'}: mean false candidates "
                f"{np.mean([r['bogus'] for r in sel]):.1f}, near the trail "
                f"{np.mean([r['bogus_near_trail'] for r in sel]):.1f}, completeness "
                f"{np.mean([r['completeness'] for r in sel]):.3f}."
            )
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
