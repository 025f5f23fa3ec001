"""Objects and light curves on a simulated multi-epoch sequence, against its truth.

Per seed, `astrid.simulation.simulate_sequence` draws a field (default 512², 250 stars, 15
galaxies), its reference and 10 science epochs over 28 days (one night of three visits,
one of two) with independent noise, artifacts and seeing per epoch, holding transients
that rise and fade, variable stars and asteroids (their own set each night). The epochs
go through `Pipeline` (SQLite, local store, real/bogus scoring on) in a shuffled order,
in two batches (so the second batch's objects get their history from stored images).
Then, against the truth:

* one object per source: stationary sources (transients, variables) with peak SNR ≥ 8
  whose detections all sit in one object and with no other object within 1.5″; splits
  (a source in more than one object) and merges (an object holding detections of more
  than one source);
* forced photometry: median (flux − true)/true where the true SNR ≥ 8, and the reduced
  χ² of (flux − true)/σ where the true flux is zero (a transient before it appears, with no
  asteroid or other changing source within `BLEND_ARCSEC` that epoch:
  independent noise in every epoch) and over every point;
* moving objects: asteroid detections whose object is flagged moving, by the number of
  visits of their night (three: a track; two: gone in the other visit; one: not testable);
  stationary sources wrongly flagged;
* the objects stage's seconds per run.

    python benchmarks/objects_sequence.py [--seeds 5] [--size 512] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table
from markdown_report import write_report

from astrid.catalog import connect
from astrid.catalog.lightcurves import light_curves
from astrid.catalog.object_records import iter_objects
from astrid.pipeline.runner import Pipeline
from astrid.simulation import SequenceConfig, simulate_sequence
from astrid.store import ObjectStore

RADIUS_ARCSEC = 1.5
# A zero-flux point is only zero in truth when no other changing source (an asteroid passing,
# a neighbouring transient) shines within this distance in that epoch: an asteroid 3″ away
# puts a third of its flux into a PSF-weighted measurement.
BLEND_ARCSEC = 10.0


def _sep_arcsec(ra: np.ndarray, dec: np.ndarray, ra0: float, dec0: float) -> np.ndarray:
    dra = (np.asarray(ra) - ra0 + 180.0) % 360.0 - 180.0
    return np.hypot(dra * np.cos(np.radians(dec0)), np.asarray(dec) - dec0) * 3600.0


def config_for(size: int) -> SequenceConfig:
    """The default sequence on a ``size``² field with the 512² densities."""
    base = SequenceConfig()
    scale = (size / 512) ** 2
    field = replace(
        base.field,
        shape=(size, size),
        n_stars=int(250 * scale),
        n_galaxies=int(15 * scale),
    )
    return replace(
        base,
        field=field,
        n_transients=int(base.n_transients * scale),
        n_variables=int(base.n_variables * scale),
        asteroids_per_night=int(base.asteroids_per_night * scale),
    )


def one_seed(seed: int, size: int, root: Path) -> dict[str, Any]:
    seq = simulate_sequence(config_for(size), seed=seed)
    paths = seq.write(root / "sequence")
    order = np.random.default_rng(seed).permutation(len(paths["epochs"]))
    frames = [paths["epochs"][int(i)] for i in order]
    half = len(frames) // 2
    stage_seconds, stage_runs = 0.0, 0
    with connect(f"sqlite:///{root / 'astrid.sqlite'}") as catalog:
        pipeline = Pipeline(catalog, ObjectStore(str(root / "store")), workers=1)
        for batch in (frames[:half], frames[half:]):
            report = pipeline.run(paths["reference"], batch, root / "out")
            assert report.objects is not None
            stage_seconds += report.objects.seconds
            stage_runs += len(report.objects.runs_done)
        objects = list(iter_objects(catalog, max_rows=10**6))
        curves = light_curves(catalog, [o.id for o in objects])
        cands = catalog.candidates()
    mjd_of_run = {p.run_id: p.mjd for pts in curves.values() for p in pts}
    return measure(seq.truth, seq.sources, objects, curves, cands, mjd_of_run) | {
        "seconds_per_run": stage_seconds / max(stage_runs, 1)
    }


def measure(
    truth: Table,
    sources: Table,
    objects: list[Any],
    curves: dict[int, list[Any]],
    cands: list[dict[str, Any]],
    mjd_of_run: dict[int, float | None],
) -> dict[str, Any]:
    """Every measure of the module docstring for one sequence."""
    by_id = {o.id: o for o in objects}
    ora = np.array([o.ra for o in objects])
    odec = np.array([o.dec for o in objects])
    c_ra = np.array([c["ra"] for c in cands], dtype=float)
    c_dec = np.array([c["dec"] for c in cands], dtype=float)
    c_mjd = np.array([mjd_of_run.get(int(c["run_id"])) or np.nan for c in cands], dtype=float)
    c_obj = np.array([c.get("object_id") or -1 for c in cands], dtype=int)
    out: dict[str, Any] = defaultdict(int)
    out |= {k: [] for k in ("bias_transient", "bias_variable", "zero_sky", "zero_galaxy")}
    out |= {"pulls_all": [], "moving_false": 0}
    sources_of_object: dict[int, set[int]] = defaultdict(set)
    # detections of every source (stationary at their place, asteroids at each epoch's)
    for row in truth:
        near = (np.abs(c_mjd - row["mjd"]) < 1e-4) & (
            _sep_arcsec(c_ra, c_dec, row["ra"], row["dec"]) < RADIUS_ARCSEC
        )
        for obj in c_obj[near]:
            if obj >= 0:
                sources_of_object[int(obj)].add(int(row["source_id"]))
    out["merges"] = sum(len(s) > 1 for s in sources_of_object.values())
    stationary = sources[np.isin(sources["kind"], ["transient", "variable"])]
    for src in stationary:
        near = np.flatnonzero(_sep_arcsec(ora, odec, src["ra"], src["dec"]) < RADIUS_ARCSEC)
        holding = {o for o, s in sources_of_object.items() if int(src["source_id"]) in s}
        if near.size == 1 and by_id[objects[near[0]].id].moving:
            out["moving_false"] += 1
        if src["peak_snr"] < 8:
            continue
        out["total"] += 1
        one = near.size == 1 and holding <= {objects[near[0]].id} and holding
        out["one"] += bool(one)
        out["total_galaxy"] += bool(src["near_galaxy"])
        out["one_galaxy"] += bool(one and src["near_galaxy"])
        out["splits"] += near.size > 1 or len(holding) > 1
        out["missed"] += not holding
        if not one:
            continue
        rows = truth[truth["source_id"] == src["source_id"]]
        true_of = {round(float(r["mjd"]), 5): (float(r["flux"]), float(r["snr"])) for r in rows}
        for p in curves[objects[near[0]].id]:
            if p.mjd is None or p.flux is None or not p.flux_err:
                continue
            true, snr = true_of.get(round(p.mjd, 5), (np.nan, np.nan))
            if not np.isfinite(true):
                continue
            pull = (p.flux - true) / p.flux_err
            out["pulls_all"].append(pull)
            if true == 0.0 and _blended(truth, src, p.mjd):
                out["zero_blended"] += 1
            elif true == 0.0:
                out["zero_galaxy" if src["near_galaxy"] else "zero_sky"].append(pull)
            if abs(snr) >= 8:
                out[f"bias_{src['kind']}"].append((p.flux - true) / true)
    out |= _moving(truth, c_ra, c_dec, c_mjd, c_obj, by_id)
    return dict(out)


def _blended(truth: Table, src: Any, mjd: float) -> bool:
    """Whether another source with flux shines within `BLEND_ARCSEC` of ``src`` at ``mjd``."""
    rows = truth[(np.abs(truth["mjd"] - mjd) < 1e-4) & (truth["source_id"] != src["source_id"])]
    rows = rows[rows["flux"] != 0]
    return bool(np.any(_sep_arcsec(rows["ra"], rows["dec"], src["ra"], src["dec"]) < BLEND_ARCSEC))


def _moving(
    truth: Table,
    c_ra: np.ndarray,
    c_dec: np.ndarray,
    c_mjd: np.ndarray,
    c_obj: np.ndarray,
    by_id: dict[int, Any],
) -> dict[str, int]:
    """Detected asteroid rows and those whose object is flagged moving, by visits per night."""
    asteroids = truth[truth["kind"] == "asteroid"]
    mjds = np.unique(np.asarray(truth["mjd"]))
    out: dict[str, int] = defaultdict(int)
    for row in asteroids:
        visits = int(np.sum(np.abs(mjds - row["mjd"]) <= 0.5))
        near = (np.abs(c_mjd - row["mjd"]) < 1e-4) & (
            _sep_arcsec(c_ra, c_dec, row["ra"], row["dec"]) < RADIUS_ARCSEC
        )
        objs = [int(o) for o in c_obj[near] if o >= 0]
        if not objs:
            continue
        key = f"{min(visits, 3)}"
        out[f"detected_{key}"] += 1
        out[f"flagged_{key}"] += all(by_id[o].moving for o in objs if o in by_id)
    return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--size", type=int, default=512, help="field side in pixels")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    runs = []
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_seed(seed, args.size, Path(tmp)))
            print(f"seed {seed}: {dict((k, v) for k, v in runs[-1].items() if np.isscalar(v))}")

    def total(key: str) -> int:
        return sum(int(r.get(key, 0)) for r in runs)

    def joined(key: str) -> np.ndarray:
        return np.concatenate([np.asarray(r[key], dtype=float) for r in runs])

    bias_t, bias_v = joined("bias_transient"), joined("bias_variable")
    bias = np.concatenate([bias_t, bias_v])
    sky, galaxy, every = joined("zero_sky"), joined("zero_galaxy"), joined("pulls_all")
    zero = np.concatenate([sky, galaxy])
    n, one = total("total"), total("one")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    command = f"python benchmarks/objects_sequence.py --seeds {args.seeds} --size {args.size}"

    def recall(key: str) -> str:
        det = total(f"detected_{key}")
        return f"{total(f'flagged_{key}')}/{det}" + (
            f" = {total(f'flagged_{key}') / det:.3f}" if det else ""
        )

    seconds = np.mean([r["seconds_per_run"] for r in runs])
    table = [
        (
            "stationary sources with peak SNR ≥ 8 ending as exactly one object",
            f"{one}/{n} = {one / max(n, 1):.3f}",
            "≥ 0.99",
        ),
        (
            "… of them on empty sky",
            f"{one - total('one_galaxy')}/{n - total('total_galaxy')}",
            "—",
        ),
        ("… of them next to a galaxy", f"{total('one_galaxy')}/{total('total_galaxy')}", "—"),
        ("… of them never detected", str(total("missed")), "—"),
        ("splits (a source in > 1 object)", str(total("splits")), "0"),
        ("merges (an object holding detections of > 1 source)", str(total("merges")), "0"),
        (
            f"median flux bias, points with true SNR ≥ 8 (n = {len(bias)})",
            f"{np.median(bias):+.4f}",
            "abs ≤ 0.02",
        ),
        (f"… transients (n = {len(bias_t)})", f"{np.median(bias_t):+.4f}", "—"),
        (f"… variable stars (n = {len(bias_v)})", f"{np.median(bias_v):+.4f}", "—"),
        (
            f"reduced χ², points with true flux 0 (n = {len(zero)})",
            f"{np.mean(zero**2):.3f}",
            "0.8–1.2",
        ),
        ("mean (flux − true)/σ there", f"{np.mean(zero):+.3f}", "0"),
        (
            f"… left out: another changing source within {BLEND_ARCSEC:g}″ that epoch",
            str(total("zero_blended")),
            "—",
        ),
        (
            f"… on empty sky (n = {len(sky)}): reduced χ², mean",
            f"{np.mean(sky**2):.3f}, {np.mean(sky):+.3f}",
            "—",
        ),
        (
            f"… next to a galaxy (n = {len(galaxy)}): reduced χ², mean",
            f"{np.mean(galaxy**2):.3f}, {np.mean(galaxy):+.3f}",
            "—",
        ),
        (
            f"reduced χ², every point of those objects (n = {len(every)})",
            f"{np.mean(every**2):.3f}",
            "—",
        ),
        ("asteroid detections flagged moving, nights of 3 visits (tracks)", recall("3"), "—"),
        ("… nights of 2 visits (gone in the other visit)", recall("2"), "—"),
        ("… nights of 1 visit (not testable from one frame)", recall("1"), "—"),
        ("stationary sources wrongly flagged moving", str(total("moving_false")), "0"),
        (f"objects stage, seconds per run ({args.size}²)", f"{seconds:.3f}", "—"),
    ]
    lines = [f"Machine: {machine}. Command: `{command}`.", "", "| measure | value | target |"]
    lines += ["|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in table]
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
