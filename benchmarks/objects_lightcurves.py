"""Objects and forced-photometry light curves on simulated epochs: one object per source, bias, χ².

Per seed: a simulated 512² field and its reference; three science epochs of it — plain,
with N point sources injected at random empty places (flux spread over SNR ≈ 3–60), plain
again — run through `Pipeline` (SQLite, local store). Then, against the injections:

* one-object fraction: injected sources with SNR ≥ 8 that end as exactly one object
  within 1.5″, and splits (more than one) / merges (an object holding two sources);
* forced-photometry flux bias on the injected epoch: median (forced − injected)/injected
  and, separately, forced vs the detection's own PSF photometry;
* non-detections (epochs without the source): mean and std of flux/flux_err, reduced χ²;
* the objects stage's seconds per run.

    python benchmarks/objects_lightcurves.py [--seeds 5] [--sources 40] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits

from astrid.catalog import connect
from astrid.difference import DifferenceProduct
from astrid.pipeline.runner import Pipeline
from astrid.simulation import SimulationConfig, inject_point_sources, simulate_pair
from astrid.store import ObjectStore


def field(size: int) -> SimulationConfig:
    """A simulated field of ``size``² with the star and galaxy density of the 512² one."""
    scale = (size / 512) ** 2
    return SimulationConfig(
        shape=(size, size),
        n_stars=int(250 * scale),
        n_galaxies=int(15 * scale),
        n_transients=0,
        n_transients_on_galaxies=0,
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def one_seed(seed: int, n_sources: int, root: Path, size: int = 512) -> dict[str, object]:
    config = field(size)
    sim = simulate_pair(config, seed=seed)
    paths = sim.write(root / "pair")
    rng = np.random.default_rng(seed + 100)
    ny, nx = config.shape
    truth_xy = np.column_stack([sim.truth["x"], sim.truth["y"]])
    chosen: list[np.ndarray] = []
    while len(chosen) < n_sources:
        xy = rng.uniform(30, [nx - 30, ny - 30])
        far = np.min(np.hypot(*(truth_xy - xy).T)) > 12
        if far and all(np.hypot(*(xy - c)) > 12 for c in chosen):
            chosen.append(xy)
    xy = np.array(chosen)
    flux = 10 ** rng.uniform(np.log10(600), np.log10(12000), n_sources)
    bright = inject_point_sources(sim.science, xy, flux, sim.science_psf, seed=seed)
    header = fits.getheader(paths["science"])
    frames = []
    for k, data in enumerate((sim.science.data, bright.data, sim.science.data)):
        hdr = header.copy()
        hdr["MJD-OBS"] = 60000.0 + k
        frames.append(root / f"epoch{k}.fits")
        fits.PrimaryHDU(np.asarray(data, np.float32), header=hdr).writeto(frames[-1])
    with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(str(root / "store")), workers=1, score=False)
        report = pipeline.run(paths["reference"], frames, root / "out")
    assert report.objects_csv and report.lightcurves_csv and report.candidates_csv
    objects = _rows(report.objects_csv)
    curves = _rows(report.lightcurves_csv)
    cands = {r["candidate_id"]: r for r in _rows(report.candidates_csv)}
    product = DifferenceProduct.read(
        Path(report.frames[1].products_local["flux"]).read_bytes(), "epoch 1"
    )
    sky = product.wcs.pixel_to_world(xy[:, 0], xy[:, 1])
    ora = np.array([float(r["ra"]) for r in objects])
    odec = np.array([float(r["dec"]) for r in objects])
    owner: dict[str, list[int]] = {}
    result: dict[str, list[float]] = {"bias": [], "vs_psf": [], "pulls": [], "snr": []}
    one = splits = total = 0
    for k in range(n_sources):
        sep = np.hypot(
            (ora - sky[k].ra.deg) * np.cos(np.radians(sky[k].dec.deg)), odec - sky[k].dec.deg
        )
        near = np.flatnonzero(sep * 3600 < 1.5)
        points = [r for r in curves if near.size == 1 and r["name"] == objects[near[0]]["name"]]
        mid = [p for p in points if float(p["mjd"]) == 60001.0]
        snr = float(mid[0]["flux"]) / float(mid[0]["flux_err"]) if mid else float("nan")
        true_snr = flux[k] / (float(mid[0]["flux_err"]) if mid else np.inf)
        for i in near:
            owner.setdefault(objects[i]["name"], []).append(k)
        if true_snr >= 8:
            total += 1
            one += near.size == 1
            splits += near.size > 1
        if mid and mid[0]["detected"] == "1" and true_snr >= 8:
            result["bias"].append((float(mid[0]["flux"]) - flux[k]) / flux[k])
            cand = cands[mid[0]["candidate_id"]]
            result["vs_psf"].append(
                (float(mid[0]["flux"]) - float(cand["flux"])) / float(cand["flux"])
            )
            result["snr"].append(snr)
        for p in points:
            if float(p["mjd"]) != 60001.0:
                result["pulls"].append(float(p["flux"]) / float(p["flux_err"]))
    merges = sum(len(set(v)) > 1 for v in owner.values())
    assert report.objects is not None
    return {
        "total": total,
        "one": one,
        "splits": splits,
        "merges": merges,
        "seconds_per_run": report.objects.seconds / max(len(report.objects.runs_done), 1),
        **{k: np.array(v) for k, v in result.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sources", type=int, default=40)
    parser.add_argument("--size", type=int, default=512, help="field side in pixels")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    runs = []
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_seed(seed, args.sources, Path(tmp), args.size))
    total = sum(int(r["total"]) for r in runs)
    one = sum(int(r["one"]) for r in runs)
    bias = np.concatenate([r["bias"] for r in runs])
    vs_psf = np.concatenate([r["vs_psf"] for r in runs])
    pulls = np.concatenate([r["pulls"] for r in runs])
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    command = "python benchmarks/objects_lightcurves.py"
    command += f" --seeds {args.seeds} --sources {args.sources} --size {args.size}"
    seconds = np.mean([r["seconds_per_run"] for r in runs])
    table = [
        (
            "injected sources with SNR ≥ 8 ending as exactly one object",
            f"{one}/{total} = {one / max(total, 1):.3f}",
            "≥ 0.99",
        ),
        ("splits (a source in > 1 object)", str(sum(int(r["splits"]) for r in runs)), "0"),
        ("merges (an object holding > 1 source)", str(sum(int(r["merges"]) for r in runs)), "0"),
        (
            f"median forced-flux bias vs injected flux (SNR ≥ 8, n = {len(bias)})",
            f"{np.median(bias):+.4f}",
            "≤ 0.02",
        ),
        ("median forced flux vs the detection's PSF flux", f"{np.median(vs_psf):+.4f}", "—"),
        (f"non-detections: mean flux/σ (n = {len(pulls)})", f"{np.mean(pulls):+.3f}", "0"),
        ("non-detections: std flux/σ", f"{np.std(pulls):.3f}", "1"),
        ("non-detections: reduced χ²", f"{np.mean(pulls**2):.3f}", "0.8–1.2"),
        (
            "non-detections with abs(flux/σ) > 5 (real residuals under the position)",
            str(int(np.sum(np.abs(pulls) > 5))),
            "—",
        ),
        (
            "non-detections: reduced χ² without those",
            f"{np.mean(pulls[np.abs(pulls) <= 5] ** 2):.3f}",
            "0.8–1.2",
        ),
        (
            f"objects stage, seconds per run ({args.size}², {args.sources} sources)",
            f"{seconds:.3f}",
            "—",
        ),
    ]
    lines = [f"Machine: {machine}. Command: `{command}`.", "", "| measure | value | target |"]
    lines += ["|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in table]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
