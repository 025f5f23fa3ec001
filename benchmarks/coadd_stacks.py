"""Proper coadd vs inverse-variance weighted mean vs median, on simulated stacks.

For N frames of one field (default 10 and 30; 512², Gaussian PSFs with FWHM drawn from
2-6 px, background noise σ from 8-15, flux scales 0.8-1.2), with 64 point sources of
equal flux on a grid, each stack is measured by the matched-filter S/N of the sources:
the image filtered with the stack's own PSF, peak at each source over the standard
deviation of the filtered map away from sources. Stacks:

- ``proper``: `astrid.difference.proper_coadd` (its PSF is returned);
- ``weighted mean``: Σ w_j M_j / F_j with w_j ∝ F_j² / σ_j² (the usual inverse-variance
  stack), PSF the same weighted mean of the PSFs;
- ``median``: the median of M_j / F_j, PSF the mean PSF;
- ``best single``: the frame with the highest S/N on its own.

Theory: the proper coadd's S/N is the quadrature sum of the frames' (√N × a single frame's
at equal seeing and depth), computed here from each frame's PSF, σ and flux scale. Also
the time per frame added.

    python benchmarks/coadd_stacks.py [--frames 10 30] [--seed 0]
        [--out docs/results/coadd_stacks.md]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from markdown_report import machine_line, write_report
from scipy import fft as sfft

from astrid.difference.coadd import proper_coadd
from astrid.difference.zogy import embed_centred

SHAPE = (512, 512)
FLUX = 150.0


def gaussian(fwhm: float, size: int = 31) -> np.ndarray:
    y, x = np.mgrid[:size, :size] - size // 2
    sigma = fwhm / 2.3548
    psf = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    return psf / psf.sum()


def sources() -> np.ndarray:
    step = SHAPE[0] // 9
    grid = np.arange(step, SHAPE[0] - step // 2, step)[:8]
    return np.array([(x, y) for y in grid for x in grid])


def frame(rng: np.random.Generator, fwhm: float, sigma: float, scale: float) -> np.ndarray:
    image = np.zeros(SHAPE)
    psf = gaussian(fwhm)
    h = psf.shape[0] // 2
    for x, y in sources():
        image[y - h : y + h + 1, x - h : x + h + 1] += scale * FLUX * psf
    return image + rng.normal(0, sigma, SHAPE)


def snr(image: np.ndarray, psf: np.ndarray) -> float:
    """Mean matched-filter S/N of the grid's sources in `image` filtered with `psf`."""
    kernel = sfft.rfft2(embed_centred(psf, image.shape))
    filtered = sfft.irfft2(sfft.rfft2(image) * np.conj(kernel), s=image.shape)
    xy = sources()
    away = np.ones(SHAPE, bool)
    for x, y in xy:
        away[max(0, y - 20) : y + 21, max(0, x - 20) : x + 21] = False
    noise = float(filtered[away].std())
    return float(np.mean([filtered[y, x] for x, y in xy]) / noise)


def stack(n: int, rng: np.random.Generator) -> dict[str, float]:
    fwhm = rng.uniform(2.0, 6.0, n)
    sigma = rng.uniform(8.0, 15.0, n)
    scale = rng.uniform(0.8, 1.2, n)
    frames = [frame(rng, f, s, k) for f, s, k in zip(fwhm, sigma, scale, strict=True)]
    psfs = [gaussian(f) for f in fwhm]
    t0 = time.perf_counter()
    coadd = proper_coadd(frames, psfs, sigma.tolist(), scale.tolist())
    seconds = time.perf_counter() - t0
    w = scale**2 / sigma**2
    w /= w.sum()
    mean = np.sum([wj * m / k for wj, m, k in zip(w, frames, scale, strict=True)], axis=0)
    mean_psf = np.sum([wj * p for wj, p in zip(w, psfs, strict=True)], axis=0)
    median = np.median([m / k for m, k in zip(frames, scale, strict=True)], axis=0)
    singles = [snr(m, p) for m, p in zip(frames, psfs, strict=True)]
    theory = [
        k * FLUX * np.sqrt(np.sum(p**2)) / s for k, p, s in zip(scale, psfs, sigma, strict=True)
    ]
    return {
        "n": n,
        "proper": snr(coadd.image.astype(float), coadd.psf),
        "weighted mean": snr(mean, mean_psf),
        "median": snr(median, np.mean(psfs, axis=0)),
        "best single": max(singles),
        "theory (quadrature sum)": float(np.sqrt(np.sum(np.square(theory)))),
        "proper seconds per frame": seconds / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = [stack(n, rng) for n in args.frames]
    keys = [k for k in rows[0] if k != "n"]
    lines = [
        machine_line(
            "python benchmarks/coadd_stacks.py --frames "
            + " ".join(map(str, args.frames))
            + f" --seed {args.seed}"
        ),
        "",
        f"Simulated stacks of {SHAPE[0]}² frames, FWHM 2-6 px, σ 8-15, 64 point sources of "
        f"flux {FLUX:g}: mean matched-filter S/N of the sources in each stack.",
        "",
        "| frames | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for r in rows:
        lines.append(f"| {r['n']} | " + " | ".join(f"{r[k]:.3g}" for k in keys) + " |")
    write_report(lines, args.out)
    if args.out:
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
