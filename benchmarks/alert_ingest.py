"""Broker-mode throughput: ZTF-layout packets ingested per second, real/bogus included.

Writes ``--packets`` ZTF-layout packets (`astrid.ingest.ztf_layout`; 63×63 stamps of a
Gaussian source on noise, three per packet as gzip FITS; ``--history`` earlier entries per
packet, a third of them upper limits) for objects seen on ``--nights`` nights, in files of
500, then runs `IngestStage` (SQLite, local store, the shipped real/bogus model) over
them and prints packets per second with the seconds of each step, then the same files
again (every packet a duplicate).

    python benchmarks/alert_ingest.py [--packets 5000] [--history 10] [--nights 5] [--repeat 1]
                                      [--dir DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from markdown_report import machine_line, write_report
from scratch_catalog import scratch_catalog

from astrid.ingest.ztf_layout import write_ztf_packets, ztf_packet
from astrid.pipeline.ingest_stage import IngestReport, IngestStage
from astrid.pipeline.scoring import resolve_model

JD0 = 2460000.5


def packets(n: int, history: int, nights: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` packets of ``n // nights`` objects, each detected once a night."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:63, :63]
    n_objects = max(1, n // nights)
    ra = rng.uniform(150.0, 151.0, n_objects)
    dec = rng.uniform(2.0, 3.0, n_objects)
    out = []
    for k in range(n):
        obj, night = k % n_objects, k // n_objects
        sigma = rng.uniform(0.8, 2.0)
        amp = rng.uniform(50, 2000) * (1 if rng.random() < 0.8 else -1)
        stamp = amp * np.exp(-((x - 31) ** 2 + (y - 31) ** 2) / (2 * sigma**2))
        stamp = (stamp + rng.normal(0, 10, (63, 63))).astype(np.float32)
        prv = []
        for h in range(history):
            limit = h % 3 == 0
            prv.append(
                {
                    "jd": JD0 + night - (h + 1) * 0.5,
                    "fid": 1 + h % 2,
                    "pid": 10_000_000 + night * 100 + h,
                    "programid": 1,
                    "candid": None if limit else 10**9 + k * 100 + h,
                    "diffmaglim": 20.5,
                    "isdiffpos": None if limit else "t",
                    "ra": None if limit else float(ra[obj]),
                    "dec": None if limit else float(dec[obj]),
                    "magpsf": None if limit else 19.5,
                    "sigmapsf": None if limit else 0.1,
                    "rb": None if limit else 0.8,
                    "drb": None,
                }
            )
        packet = ztf_packet(
            10**12 + k,
            stamp=stamp,
            prv_candidates=prv,
            jd=JD0 + night + rng.uniform(0, 0.3),
            pid=20_000_000 + night * 64 + obj % 64,
            ra=float(ra[obj]),
            dec=float(dec[obj]),
            magpsf=float(rng.uniform(17, 20.5)),
            isdiffpos="t" if amp > 0 else "f",
            fwhm=float(2.355 * sigma),
        )
        packet["objectId"] = f"ZTF26{obj:07d}"
        out.append(packet)
    return out


def row(name: str, report: IngestReport) -> str:
    steps = " / ".join(f"{k} {v:.2f}" for k, v in report.timings.items())
    return (
        f"| {name} | {report.read} | {report.stored} | {report.seconds:.1f} "
        f"| {report.per_second:.0f} | {steps} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=5000)
    parser.add_argument("--history", type=int, default=10)
    parser.add_argument("--nights", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=1, help="Runs, each on a fresh catalog.")
    parser.add_argument(
        "--dir", type=Path, help="Where the catalog, store and packets go (default: the temp dir)."
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    for run in range(1, args.repeat + 1):
        with scratch_catalog(args.dir) as (catalog, store, root):
            made = packets(args.packets, args.history, args.nights)
            (root / "packets").mkdir()
            for k in range(0, len(made), 500):
                write_ztf_packets(root / "packets" / f"{k:06d}.avro", made[k : k + 500])
            stage = IngestStage(catalog, store, model=resolve_model(catalog, store))
            first = stage.ingest([root / "packets"])
            again = stage.ingest([root / "packets"])
        rows += [row(f"{run}: first", first), row(f"{run}: again (all duplicates)", again)]
    lines = [
        machine_line(
            f"python benchmarks/alert_ingest.py --packets {args.packets} --history "
            f"{args.history} --nights {args.nights} --repeat {args.repeat}"
            + (f" --dir {args.dir}" if args.dir else "")
        ),
        "",
        "| run: pass | packets | new | seconds | packets/s | seconds per step |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
