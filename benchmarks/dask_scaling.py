"""Frames per hour on the local process pool and on a Dask cluster of 1 and 2 workers.

``--frames`` science frames of one simulated ``--size``² field (copies of one science frame
with a header card changed, so every frame is its own run with the same work) are
differenced against its reference by `astrid.pipeline.runner.Pipeline` four ways, each on
a fresh SQLite catalog and local store: 1 and 2 local processes (``astrid run``'s pool),
and a `distributed.LocalCluster` of 1 and 2 single-threaded worker processes (the frames
read from the store by URL, products put back there and copied to the output folder, as on
a real cluster). The cluster is started before the clock. Writes a table of wall seconds,
frames per hour and the per-frame overhead of the Dask path against the pool.

    python benchmarks/dask_scaling.py [--size 1024] [--frames 8] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import distributed
from astropy.io import fits
from markdown_report import machine_line, write_report
from scratch_catalog import scratch_catalog

from astrid.pipeline.runner import Pipeline
from astrid.simulation import SimulationConfig, simulate_pair


def frames(root: Path, size: int, n: int) -> tuple[Path, list[Path]]:
    paths = simulate_pair(SimulationConfig(shape=(size, size)), seed=11).write(root / "pair")
    sciences = []
    with fits.open(paths["science"]) as hdul:
        for k in range(n):
            hdul[0].header["BENCHCPY"] = k  # its own content hash, so its own run
            hdul.writeto(root / f"science-{k:02d}.fits")
            sciences.append(root / f"science-{k:02d}.fits")
    return paths["reference"], sciences


def timed(reference: Path, sciences: list[Path], **kwargs: Any) -> dict[str, Any]:
    with scratch_catalog() as (catalog, store, root):
        pipeline = Pipeline(catalog, store, publish_alerts=False, isolate=True, **kwargs)
        start = time.perf_counter()
        report = pipeline.run(reference, sciences, root / "out")
        seconds = time.perf_counter() - start
    done = sum(frame.status == "done" for frame in report.frames)
    return {"seconds": seconds, "done": done, "frames_per_hour": 3600 * done / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with scratch_catalog() as (_, _, root):
        reference, sciences = frames(root, args.size, args.frames)
        for n in (1, 2):
            results[f"local pool, {n} process{'es' if n > 1 else ''}"] = timed(
                reference, sciences, workers=n
            )
        for n in (1, 2):
            with distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster:
                address = str(cluster.scheduler_address)
                results[f"Dask LocalCluster, {n} worker{'s' if n > 1 else ''}"] = timed(
                    reference, sciences, scheduler=address
                )
    pool1 = results["local pool, 1 process"]["seconds"]
    dask1 = results["Dask LocalCluster, 1 worker"]["seconds"]
    overhead = (dask1 - pool1) / args.frames
    lines = [
        machine_line(
            f"python benchmarks/dask_scaling.py --size {args.size} --frames {args.frames}"
        ),
        "",
        "| engine | frames done | wall s | frames per hour | s per frame |",
        "|---|---|---|---|---|",
    ]
    for name, row in results.items():
        per = row["seconds"] / max(row["done"], 1)
        lines.append(
            f"| {name} | {row['done']}/{args.frames} | {row['seconds']:.1f} "
            f"| {row['frames_per_hour']:.0f} | {per:.2f} |"
        )
    lines += [
        "",
        f"Per-frame overhead of the Dask path against the pool (1 worker vs 1 process): "
        f"{overhead:+.2f} s.",
    ]
    write_report(lines, args.out)
    if args.json:
        payload = {"size": args.size, "frames": args.frames, "results": results}
        args.json.write_text(json.dumps({**payload, "overhead_s": overhead}, indent=1) + "\n")


if __name__ == "__main__":
    main()
