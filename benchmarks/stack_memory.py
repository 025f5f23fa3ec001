"""Peak memory and time of `astrid coadd` as frames are added (issue 19: 50 × 4096² in 4 GB).

Writes ``max(--frames)`` epochs of one simulated field (``--size``², seeing 0.65-1.6 × the
field's, a satellite trail in one, cosmic rays and hot pixels in all; `reference_stacks`'
field) as FITS files, then for each N of ``--frames`` runs ``astrid coadd`` on the first N
in a fresh process and records its wall time and peak resident memory (the child's
``ru_maxrss``: everything the process touched, NumPy, FFTs and reading the files
included). Memory that does not grow with N is the claim; the time per frame added is
the slope.

    python benchmarks/stack_memory.py [--size 4096] [--frames 4 12 50] [--method proper]
        [--dir DIR] [--out docs/results/stack_memory.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from markdown_report import machine_line, write_report
from reference_stacks import field

from astrid.simulation import simulate_pair


def write_epochs(size: int, n: int, seed: int, folder: Path) -> list[Path]:
    """``n`` epochs of one field as FITS files (written one at a time)."""
    config = field(size)
    rng = np.random.default_rng(seed)
    paths = []
    for k, seeing in enumerate(rng.uniform(0.65, 1.6, n)):
        path = folder / f"epoch{k:02d}.fits"
        if not path.exists():
            cfg = replace(config, n_satellite_trails=1) if k == 1 else config
            pair = simulate_pair(cfg, seed=seed, epoch=k + 1, seeing=float(seeing))
            pair.science.to_hdu().writeto(path, overwrite=True)
        paths.append(path)
    return paths


def coadd(paths: list[Path], method: str, out: Path, log: Path) -> dict[str, Any]:
    """One ``astrid coadd`` in a child process: its seconds and its own peak memory."""
    command = [sys.executable, "-m", "astrid.cli", "coadd", "-o", str(out), "--method", method]
    start = time.perf_counter()
    with log.open("w") as output:
        child = subprocess.Popen([*command, *map(str, paths)], stdout=output, stderr=output)
        _, status, usage = os.wait4(child.pid, 0)  # this child's rusage, not the maximum
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"astrid coadd failed ({child.returncode}):\n{log.read_text()}")
    return {"frames": len(paths), "seconds": round(seconds, 1), "peak_gb": usage.ru_maxrss / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--frames", type=int, nargs="+", default=[4, 12, 50])
    parser.add_argument("--method", default="proper")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None, help="keep the epochs here")
    parser.add_argument("--out", type=Path, default=Path("docs/results/stack_memory.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        paths = write_epochs(args.size, max(args.frames), args.seed, folder)
        print(f"{len(paths)} epochs of {args.size}² in {time.perf_counter() - start:.0f} s")
        rows = []
        for n in sorted(args.frames):
            row = coadd(paths[:n], args.method, Path(tmp) / "stack.fits", Path(tmp) / "log")
            rows.append(row)
            print(json.dumps(row), flush=True)
    slope = ""
    if len(rows) > 1:
        per_frame = (rows[-1]["seconds"] - rows[0]["seconds"]) / (
            rows[-1]["frames"] - rows[0]["frames"]
        )
        slope = f"Seconds per frame added: {per_frame:.1f}."
    (args.out.with_suffix(".json")).write_text(json.dumps(rows, indent=1) + "\n")
    lines = [
        machine_line(
            f"python benchmarks/stack_memory.py --size {args.size} --frames "
            f"{' '.join(map(str, args.frames))} --method {args.method}"
        ),
        "",
        f"`astrid coadd --method {args.method}` of N simulated {args.size}² frames, each in a "
        "fresh process: wall seconds and peak resident memory (`ru_maxrss`). Scratch "
        f"folder on disk: {os.environ.get('TMPDIR', tempfile.gettempdir())}.",
        "",
        "| frames | seconds | peak memory (GB) |",
        "|---|---|---|",
        *(f"| {r['frames']} | {r['seconds']} | {r['peak_gb']:.2f} |" for r in rows),
        "",
        slope,
    ]
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
