"""Speed: ZOGY alone against the FFT floor, end to end per stage, and batch throughput.

Usage: python benchmarks/speed.py [--sizes 1024 2048 4096] [--e2e-size 4096]
                                  [--batch 4 --batch-size 2048] [--repeat 3]
                                  [--out docs/results] [--quick]

- ZOGY alone (float32 inputs, Gaussian PSFs, white noise) with 256 and 512 px tiles, and the
  FFT floor measured in the same run: the time of the nine full-image real FFTs that ZOGY
  cannot avoid (forward: N, R, V_N, V_R; inverse: D, S_N, S_R, V(S_N), V(S_R)), with the
  same scipy.fft and thread count.
- End to end: one simulated science frame against its reference, from FITS files to
  candidates in the SQLite catalog, with the per-stage breakdown and peak memory.
- Throughput: a batch of science frames against one reference through the process pool.
Writes ``<out>/speed.json`` and prints tables. ``--quick`` runs tiny sizes (for the tests).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from scipy import fft as sfft

from astrid.catalog import connect
from astrid.difference.zogy import ZogyConfig, ZogyInputs, zogy
from astrid.pipeline import frame as frame_module
from astrid.pipeline.reference_cache import ReferenceCache
from astrid.pipeline.runner import Pipeline
from astrid.simulation import SimulationConfig, inject_point_sources, simulate_pair
from astrid.store import ObjectStore


def _gaussian_psf(fwhm: float, size: int = 31) -> np.ndarray:
    s = fwhm / 2.3548
    h = size // 2
    y, x = np.mgrid[-h : h + 1, -h : h + 1]
    p = np.exp(-(x**2 + y**2) / (2 * s * s))
    return p / p.sum()


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(min(times))


def _fft_floor(plane: np.ndarray) -> None:
    shape = plane.shape
    spectra = [sfft.rfft2(plane, workers=-1) for _ in range(4)]
    for _ in range(5):
        sfft.irfft2(spectra[0], s=shape, workers=-1)


def zogy_alone(sizes: list[int], repeat: int) -> list[dict[str, float]]:
    rows = []
    pn, pr = _gaussian_psf(3.5), _gaussian_psf(2.8)
    for n in sizes:
        rng = np.random.default_rng(0)
        sci = rng.normal(0, 10, (n, n)).astype(np.float32)
        ref = rng.normal(0, 5, (n, n)).astype(np.float32)
        inputs = ZogyInputs(
            sci,
            ref,
            np.full_like(sci, 100.0),
            np.full_like(ref, 25.0),
            10.0,
            5.0,
            1.5,
            partial(_constant, pn),
            partial(_constant, pr),
            np.zeros((n, n), bool),
            (0.05, 0.05),
        )
        m = sfft.next_fast_len(n, real=True)
        plane = rng.normal(size=(m, m)).astype(np.float32)
        row = {"size": n, "fft_floor_s": _best(partial(_fft_floor, plane), repeat)}
        for tile in (256, 512):
            run = partial(zogy, inputs, ZogyConfig(tile_size=tile))
            row[f"zogy_tile{tile}_s"] = _best(run, repeat)
            row[f"zogy_tile{tile}_over_floor"] = row[f"zogy_tile{tile}_s"] / row["fft_floor_s"]
        rows.append(row)
        print(
            f"{n:>5}²  floor {row['fft_floor_s']:.3f} s   ZOGY 256-px tiles "
            f"{row['zogy_tile256_s']:.3f} s ({row['zogy_tile256_over_floor']:.1f}×)   "
            f"512-px tiles {row['zogy_tile512_s']:.3f} s ({row['zogy_tile512_over_floor']:.1f}×)",
            flush=True,
        )
    return rows


def _constant(psf: np.ndarray, x: float, y: float) -> np.ndarray:
    return psf


def _sim_config(n: int) -> SimulationConfig:
    scale = (n / 2048) ** 2
    return SimulationConfig(
        shape=(n, n),
        n_stars=int(1500 * scale),
        n_galaxies=int(300 * scale),
        n_transients=int(200 * scale),
        n_transients_on_galaxies=int(50 * scale),
    )


def end_to_end(n: int, work: Path) -> dict[str, object]:
    """One frame from files to the catalog, twice: the first run prepares the reference
    (and keeps the preparation, as `astrid run` does under DATA_DIR/cache/prepared); the
    second, in a fresh catalog, store and process cache, reads it (a later `astrid run`
    against the same reference)."""
    sim = simulate_pair(_sim_config(n), seed=0)
    paths = sim.write(work / "e2e")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    runs = []
    for k in range(2):
        frame_module._REFERENCES = ReferenceCache()  # a new process's cache
        with connect(f"sqlite:///{work / f'e2e{k}.sqlite'}") as catalog:
            pipeline = Pipeline(
                catalog,
                ObjectStore(str(work / f"store{k}")),
                workers=1,
                reference_cache=work / "prepared",
            )
            start = time.perf_counter()
            report = pipeline.run(paths["reference"], [paths["science"]], work / f"out{k}")
            total = time.perf_counter() - start
        runs.append(_e2e_stages(report.frames[0], total))
        label = "first run" if k == 0 else "again, reference kept"
        print(f"end to end {n}², {label}: {total:.2f} s, {runs[-1]['n_candidates']} candidates")
        for name, seconds in sorted(runs[-1]["stages_s"].items(), key=lambda kv: -kv[1]):
            print(f"    {name:<36} {seconds:7.3f} s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:.0f} MB")
    return {
        "size": n,
        **runs[0],
        "reference_kept": runs[1],
        "peak_rss_mb": peak_mb,
        "peak_rss_before_mb": rss_before / 1024,
    }


def _e2e_stages(frame: Any, total: float) -> dict[str, Any]:
    stages = {
        k.removeprefix("seconds_"): v for k, v in frame.stats.items() if k.startswith("seconds_")
    }
    stages["read"] = frame.timings.get("read", 0.0)
    stages["reference: masks, background, stars"] = frame.timings.get("prepare_reference", 0.0)
    stages["ML score (rb, ood)"] = frame.timings.get("score", 0.0)
    stages["write products"] = frame.timings.get("write", 0.0)
    accounted = sum(frame.timings.values())
    stages["hash, register, cutouts + DB write"] = total - accounted
    return {
        "status": frame.status,
        "n_candidates": frame.n_candidates,
        "total_s": total,
        "stages_s": stages,
    }


def throughput(n_frames: int, n: int, work: Path) -> dict[str, object]:
    sim = simulate_pair(_sim_config(n), seed=1)
    paths = sim.write(work / "batch")
    from astropy.io import fits

    header = fits.getheader(paths["science"])
    sciences = [paths["science"]]
    for k in range(1, n_frames):
        extra = inject_point_sources(
            sim.science,
            np.array([[100.0 + 10 * k, 120.0]]),
            np.array([5e4]),
            sim.science_psf,
            seed=k,
        )
        path = work / "batch" / f"science_{k}.fits"
        fits.PrimaryHDU(extra.data, header).writeto(path, overwrite=True)
        sciences.append(path)
    with connect(f"sqlite:///{work / 'batch.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(str(work / "bstore")), workers=0)
        start = time.perf_counter()
        report = pipeline.run(paths["reference"], sciences, work / "bout")
        total = time.perf_counter() - start
    done = sum(f.status == "done" for f in report.frames)
    result = {
        "frames": n_frames,
        "size": n,
        "workers": os.cpu_count(),
        "done": done,
        "total_s": total,
        "seconds_per_frame": total / n_frames,
        "frames_per_hour": 3600 * n_frames / total,
    }
    print(
        f"batch of {n_frames} × {n}²: {total:.1f} s, {result['seconds_per_frame']:.1f} s/frame, "
        f"{result['frames_per_hour']:.0f} frames/hour ({done} done)"
    )
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    ap.add_argument("--e2e-size", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("docs/results"))
    ap.add_argument("--quick", action="store_true", help="tiny sizes, to check the script runs")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.e2e_size, args.batch, args.batch_size, args.repeat = [256], 384, 2, 384, 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = {
            "machine": f"{platform.node()}, {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {sys.version.split()[0]}, numpy {np.__version__}",
            "command": "python " + " ".join(sys.argv),
            "zogy": zogy_alone(args.sizes, args.repeat),
            "end_to_end": end_to_end(args.e2e_size, work),
            "throughput": throughput(args.batch, args.batch_size, work),
        }
    args.out.mkdir(parents=True, exist_ok=True)
    name = "speed_quick.json" if args.quick else "speed.json"
    (args.out / name).write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
