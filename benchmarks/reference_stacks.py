"""References stacked by `astrid coadd` from simulated frames: depth, rejection, and the
completeness of subtractions against them (issue 19).

Per N (default 10 and 20): N epochs of one simulated field (`simulate_pair` epochs: one
sky, independent noise, cosmic rays and hot pixels; seeing 1.5-4″ at 0.7″/px), one of
them crossed by a satellite trail and one holding a bright transient the others lack.
Each is stacked by `astrid.difference.stack.stack_frames` with the three methods
(``proper``, the inverse-variance weighted ``mean``, the ``median``; same alignment,
flux scales and outlier rejection), and measured by:

* depth: the noise of a PSF-fit flux, σ_img / sqrt(Σ P²) (σ_img measured on the sky the
  frames all cover, P the stack's PSF), against the best single frame's; theory for the
  proper coadd: the quadrature sum of the frames' point-source S/N; √N for reference;
* the transient: its flux left in the stack, as a fraction of what was injected;
* seconds and peak traced memory (tracemalloc) per frame added;
* a subtraction: `Pipeline` (SQLite, local store, real/bogus on) on a new science frame
  of the field with 30 transients and 5 variables, against the stack, against the best
  single frame and against the simulator's own deep reference: sources of the truth
  found (within 2.5 px), and false candidates, before and after the rb cut.

    python benchmarks/reference_stacks.py [--frames 10 20] [--size 512] [--seed 0]
        [--out docs/results/reference_stacks.md]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from astropy.stats import sigma_clipped_stats
from markdown_report import machine_line, write_report

from astrid.catalog import connect
from astrid.difference.stack import STACK_METHODS, Stack, StackConfig, stack_frames
from astrid.difference.stack_files import write_stack
from astrid.observations.image import Image
from astrid.pipeline.runner import Pipeline
from astrid.simulation import SimulationConfig, simulate_pair
from astrid.simulation.injection import inject_point_sources
from astrid.store import ObjectStore

TRANSIENT_FLUX = 40_000.0
RB_CUT = 0.749
REAL_KINDS = ("transient", "transient_on_galaxy", "variable")


def field(size: int) -> SimulationConfig:
    return SimulationConfig(
        shape=(size, size),
        n_stars=int(250 * (size / 512) ** 2),
        n_galaxies=int(15 * (size / 512) ** 2),
        n_transients=0,
        n_transients_on_galaxies=0,
        n_variables=0,
        n_cosmic_rays=10,
        n_hot_pixels=4,
        n_bad_columns=0,
    )


def epochs(config: SimulationConfig, n: int, seed: int) -> tuple[list[Image], tuple[float, float]]:
    """N frames (seeing multipliers 0.65-1.6), frame 1 with a trail, frame 2 a transient."""
    rng = np.random.default_rng(seed)
    seeing = rng.uniform(0.65, 1.6, n)
    frames = []
    for k, s in enumerate(seeing):
        cfg = replace(config, n_satellite_trails=1) if k == 1 else config
        pair = simulate_pair(cfg, seed=seed, epoch=k + 1, seeing=float(s))
        image = replace(pair.science, path=f"epoch{k:02d}.fits")
        if k == 2:
            xy = empty_spot(pair.truth, config.shape)
            image = inject_point_sources(
                image, np.array([xy]), np.array([TRANSIENT_FLUX]), pair.science_psf, seed=1
            )
            transient = xy
        frames.append(image)
    return frames, transient


def empty_spot(truth: Any, shape: tuple[int, int]) -> tuple[float, float]:
    """The point of a 16-px grid farthest from every simulated source (and the edges)."""
    ys, xs = np.mgrid[32 : shape[0] - 32 : 16, 32 : shape[1] - 32 : 16]
    x, y = xs.ravel() + 0.3, ys.ravel() + 0.6
    d = np.hypot(
        x[:, None] - np.asarray(truth["x"])[None], y[:, None] - np.asarray(truth["y"])[None]
    )
    best = int(np.argmax(d.min(axis=1)))
    return float(x[best]), float(y[best])


def psf_noise(image: np.ndarray, psf: np.ndarray, sky: np.ndarray) -> float:
    """Noise of a PSF-fit flux: σ / sqrt(Σ P²)."""
    _, _, sigma = sigma_clipped_stats(image[sky], sigma=3.0)
    return float(sigma) / float(np.sqrt(np.sum((psf / psf.sum()) ** 2)))


def aperture(image: np.ndarray, xy: tuple[float, float], r: float = 8.0) -> float:
    y, x = np.mgrid[: image.shape[0], : image.shape[1]]
    return float(np.nansum(image[np.hypot(x - xy[0], y - xy[1]) <= r]))


def subtraction(science: Path, reference: Path, truth: Path, work: Path) -> dict[str, int]:
    """Run the pipeline; truth sources found and false candidates (all / rb > cut)."""
    with connect(f"sqlite:///{work / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(str(work / "store")), publish_alerts=False)
        report = pipeline.run(reference, [science], work / "out")
    (frame,) = report.frames
    if frame.status != "done":
        return {"error": 1}
    with open(truth, newline="") as f:
        real = [r for r in csv.DictReader(f) if r["kind"] in REAL_KINDS]
    tx = np.array([float(r["x"]) for r in real])
    ty = np.array([float(r["y"]) for r in real])
    with open(work / "out" / "candidates.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    x = np.array([float(r["x"]) for r in rows])
    y = np.array([float(r["y"]) for r in rows])
    rb = np.array([float(r["rb"]) if r["rb"] else np.nan for r in rows])
    near = np.hypot(x[:, None] - tx[None, :], y[:, None] - ty[None, :]) < 2.5
    matched = near.any(axis=1)
    return {
        "truth": len(real),
        "found": int(near.any(axis=0).sum()),
        "found (rb)": int(near[rb > RB_CUT].any(axis=0).sum()) if len(rows) else 0,
        "false": int((~matched).sum()),
        "false (rb)": int((~matched & (rb > RB_CUT)).sum()),
    }


def measure(n: int, size: int, seed: int, root: Path) -> list[dict[str, Any]]:
    config = field(size)
    frames, transient = epochs(config, n, seed)
    changing = replace(
        config,
        n_transients=max(4, int(30 * (size / 512) ** 2)),
        n_transients_on_galaxies=max(1, config.n_galaxies // 3),
        n_variables=5,
    )
    new = simulate_pair(changing, seed=seed)
    paths = new.write(root / f"n{n}" / "science")
    rows = []
    stacks: dict[str, Stack] = {}
    for method in STACK_METHODS:
        tracemalloc.start()
        t0 = time.perf_counter()
        stack = stack_frames(frames, StackConfig(method=method))
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        stacks[method] = stack
        ref = write_stack(stack, root / f"n{n}" / f"{method}.fits", sha256=["0" * 64] * n)
        work = root / f"n{n}" / f"run-{method}"
        rows.append(
            {
                "frames": n,
                "reference": f"{method} stack",
                "seconds per frame": seconds / n,
                "peak MB per frame": peak / n / 2**20,
                "transient left": aperture(stack.image, transient) / TRANSIENT_FLUX,
                **subtraction(paths["science"], ref, paths["truth"], work),
            }
        )
    full = stacks["proper"].exposure == n
    # each frame's point-source S/N per unit flux, F_j sqrt(Σ P_j²) / σ_j, with Σ P_j² the
    # inverse effective area its FWHM stands for (`psf_fwhm` is measured from that area)
    s_single = []
    for f in stacks["proper"].frames:
        sigma_px = f.fwhm_px / 2.3548
        sum_p2 = 1.0 / (4.0 * np.pi * sigma_px**2)
        s_single.append(f.flux_scale * np.sqrt(sum_p2) / f.sigma)
    best = max(s_single)
    theory = float(np.sqrt(np.sum(np.square(s_single))) / best)
    for row in rows:
        stack = stacks[row["reference"].split()[0]]
        row["depth gain"] = (1.0 / best) / psf_noise(stack.image, stack.psf, full)
        row["theory"] = theory if row["reference"].startswith("proper") else float("nan")
        row["sqrt N"] = float(np.sqrt(n))
    best_frame = int(np.argmax(s_single))
    single = root / f"n{n}" / "best_single.fits"
    frames[best_frame].to_hdu().writeto(single, overwrite=True)
    for name, ref in (
        ("best single frame", single),
        ("simulated deep reference", paths["reference"]),
    ):
        work = root / f"n{n}" / f"run-{name.split()[0]}"
        rows.append(
            {
                "frames": n,
                "reference": name,
                **subtraction(paths["science"], ref, paths["truth"], work),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [r for n in args.frames for r in measure(n, args.size, args.seed, Path(tmp))]
    keys = [
        "depth gain",
        "theory",
        "sqrt N",
        "transient left",
        "seconds per frame",
        "peak MB per frame",
        "found",
        "found (rb)",
        "false",
        "false (rb)",
    ]
    command = (
        "python benchmarks/reference_stacks.py --frames "
        + " ".join(map(str, args.frames))
        + f" --size {args.size} --seed {args.seed}"
    )
    lines = [
        machine_line(command),
        "",
        f"{args.size}² frames, seeing 1.5-4″, one with a satellite trail, one with a transient "
        f"of flux {TRANSIENT_FLUX:g} the others lack. Subtraction: a new frame with "
        f"{rows[0].get('truth', '?')} real changing sources (transients and variables); found "
        f"within 2.5 px; (rb) = rb > {RB_CUT}.",
        "",
        "| frames | reference | " + " | ".join(keys) + " |",
        "|---|---|" + "---|" * len(keys),
    ]
    for r in rows:
        cells = []
        for k in keys:
            v = r.get(k)
            if v is None or (isinstance(v, float) and np.isnan(v)):
                cells.append("")
            else:
                cells.append(f"{v:.3g}" if isinstance(v, float) else str(v))
        lines.append(f"| {r['frames']} | {r['reference']} | " + " | ".join(cells) + " |")
    write_report(lines, args.out)
    if args.out:
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
