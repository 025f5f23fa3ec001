"""Proper coadd vs weighted mean vs median on real frames: the DECam groups (issue 19).

Each group of ../shared/data/decam (OBS04: FWHM 4.1-5.9 px; OBS18: 3.6-4.2 px; five
256² i-band exposures of one field, already on one grid) is used five times: one frame is
held out as the science frame, and the other four make the references:

* ``proper``, ``mean`` (inverse-variance weighted), ``median``: `stack_frames` of the four
  with that method (same alignment, flux scales and outlier rejection), best-seeing frame
  first so that every stack is in its flux units;
* ``best single``: the best-seeing of the four, as a one-frame stack (the same background
  and PSF steps) for depth, and as read from disk for the subtraction.

Measured per reference:

* **depth**: the noise of a PSF-fit flux measured directly, the robust standard deviation
  of Σ P·I / Σ P² at 1 500 random places with no source within the PSF stamp (P the
  reference's own PSF). Real resampled frames have correlated noise, so this is the figure
  that counts, not σ per pixel. Depth gain = the best single frame's noise / the stack's
  (same units). The proper coadd's theory is the quadrature sum of the four frames'
  white-noise point-source S/N over the best one's (`StackedFrame` fwhm, σ, flux scale);
* **subtraction**: `astrid.evaluation.evaluate_pair` on the held-out frame against the
  reference: 60 fakes (SNR 3-40 on the science noise, the same fakes for every reference
  of a rotation), their completeness, the 50 % completeness magnitude (instrumental) and
  the false candidates of the pair without fakes (before any real/bogus cut).

    python benchmarks/decam_stacks.py [--data ../shared/data/decam] [--fakes 60]
        [--out docs/results/decam_stacks.md]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from markdown_report import machine_line, write_report

from astrid.difference.stack import STACK_METHODS, Stack, StackConfig, stack_frames
from astrid.difference.stack_files import write_stack
from astrid.evaluation.evaluate import EvaluationConfig, evaluate_pair
from astrid.observations.fits_reader import read_image
from astrid.observations.image import Image

GROUPS = ("DEC-OBS04", "DEC-OBS18")


def fit_noise(stack: Stack, rng: np.random.Generator, n: int = 1500) -> float:
    """Robust σ of PSF-fit fluxes at random source-free places of the stack."""
    image, psf = stack.image, stack.psf / stack.psf.sum()
    h = psf.shape[0] // 2
    finite = np.isfinite(image)
    sky = image[finite]
    med = np.median(sky)
    sigma = 1.4826 * np.median(np.abs(sky - med))
    busy = ~finite | (np.abs(np.nan_to_num(image) - med) > 3 * sigma)
    fluxes: list[float] = []
    for _ in range(50 * n):
        if len(fluxes) >= n:
            break
        y = int(rng.integers(h, image.shape[0] - h))
        x = int(rng.integers(h, image.shape[1] - h))
        box = (slice(y - h, y + h + 1), slice(x - h, x + h + 1))
        if busy[box].any():
            continue
        fluxes.append(float(np.sum(psf * image[box]) / np.sum(psf**2)))
    values = np.asarray(fluxes)
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def theory(stack: Stack) -> float:
    """The proper coadd's S/N over its best frame's, for white noise (frames' FWHM, σ, F)."""
    s = [f.flux_scale / (f.sigma * np.sqrt(4 * np.pi) * f.fwhm_px / 2.3548) for f in stack.frames]
    return float(np.sqrt(np.sum(np.square(s))) / max(s))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rotation(
    paths: list[Path], held: int, fakes: int, work: Path, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """The references of the four frames other than ``held``, measured."""
    images = {p: read_image(p) for p in paths}
    others = sorted((p for k, p in enumerate(paths) if k != held), key=lambda p: fwhm(images[p]))
    science = images[paths[held]]
    single = stack_frames([images[others[0]]], StackConfig(min_frames=1))
    single_noise = fit_noise(single, rng)
    references: dict[str, tuple[Image, float, float]] = {}
    for method in STACK_METHODS:
        stack = stack_frames([images[p] for p in others], StackConfig(method=method))
        path = write_stack(stack, work / f"{method}.fits", sha256=[sha256(p) for p in others])
        gain = single_noise / fit_noise(stack, rng)
        references[method] = (read_image(path), gain, theory(stack) if method == "proper" else 0)
    references["best single"] = (images[others[0]], 1.0, 1.0)
    rows = []
    for name, (reference, gain, predicted) in references.items():
        config = EvaluationConfig(n_fakes=fakes, per_round=20, on_galaxy_fraction=0.0, seed=held)
        summary = evaluate_pair(science, reference, config).summary
        rows.append(
            {
                "science": paths[held].stem,
                "reference": name,
                "science fwhm": fwhm(science),
                "depth gain": gain,
                "theory": predicted or None,
                "completeness": summary["completeness"],
                "mag_50": summary["mag_50"],
                "false": summary["false_candidates_per_frame"],
            }
        )
    return rows


def fwhm(image: Image) -> float:
    return float(image.meta.fwhm or np.nan)


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Per group and reference: the means over the five rotations."""
    lines = [
        "| group | reference | depth gain (measured) | theory (white noise) | completeness "
        "| proper's depth over this (paired) | 50 % magnitude | false candidates per frame |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for group in GROUPS:
        mine = [r for r in rows if r["science"].startswith(group)]
        for name in (*STACK_METHODS, "best single"):
            sel = [r for r in mine if r["reference"] == name]
            gain = np.array([r["depth gain"] for r in sel])
            comp = np.array([r["completeness"] for r in sel])
            mag = np.array([r["mag_50"] for r in sel])
            false = np.array([r["false"] for r in sel])
            pred = [r["theory"] for r in sel if r["theory"]]
            proper = np.array([r["depth gain"] for r in mine if r["reference"] == "proper"])
            paired = proper / gain
            lines.append(
                f"| {group} | {name} | {gain.mean():.2f} ({gain.min():.2f}-{gain.max():.2f}) "
                f"| {np.mean(pred) if pred else float('nan'):.2f} | {comp.mean():.3f} "
                f"| {paired.mean():.3f} ({paired.min():.2f}-{paired.max():.2f}) "
                f"| {np.nanmean(mag):.2f} | {false.mean():.1f} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/decam"))
    parser.add_argument("--fakes", type=int, default=60)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for group in GROUPS:
            paths = sorted(args.data.glob(f"{group}?.fits"))
            for held in range(len(paths)):
                work = Path(scratch) / f"{group}-{held}"
                work.mkdir()
                rows += rotation(paths, held, args.fakes, work, rng)
                print(json.dumps(rows[-4:], default=float))
    command = "python benchmarks/decam_stacks.py" + (
        f" --fakes {args.fakes}" if args.fakes != 60 else ""
    )
    lines = [
        machine_line(command),
        "",
        "Means over the five rotations of each group (one frame held out as science, the "
        "other four stacked; ranges in brackets).",
        "",
        *table(rows),
    ]
    write_report(lines, args.out)
    if args.out:
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
