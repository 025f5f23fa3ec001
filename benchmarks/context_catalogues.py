"""Benchmark offline catalogue install, load and match on the real fink-science wheel.

Usage: ``python benchmarks/context_catalogues.py WHEEL [--positions 10000]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from astrid.context import crossmatch, install_catalogues, load_catalogues


def main() -> None:
    """Time install, load and 10k-position matching per catalogue and all together."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("wheel", type=Path, help="fink_science-*.whl")
    parser.add_argument("--positions", type=int, default=10_000, help="random query positions")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ra = rng.uniform(0.0, 360.0, args.positions)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, args.positions)))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = install_catalogues(args.wheel, Path(tmp))
        print(f"install: {time.perf_counter() - t0:.2f} s; problems: {report.problems}")
        t0 = time.perf_counter()
        cats, problems = load_catalogues(Path(tmp))
        print(f"load (incl. KD-tree build): {time.perf_counter() - t0:.2f} s; problems: {problems}")
        for cat in cats:
            t0 = time.perf_counter()
            hits = sum(len(r) for r, _ in cat.match(ra, dec))
            dt = time.perf_counter() - t0
            print(f"{cat.spec.name}: {len(cat)} rows, match {dt * 1e3:.1f} ms, {hits} hits")
        t0 = time.perf_counter()
        matches = crossmatch(cats, ra, dec)
        dt = time.perf_counter() - t0
        print(f"crossmatch all: {dt * 1e3:.1f} ms, {sum(map(len, matches))} matches")


if __name__ == "__main__":
    main()
