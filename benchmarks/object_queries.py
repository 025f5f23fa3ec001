"""Cone search and the association neighbourhood over ≥ 1 M objects: median times and plans.

Fills a fresh catalog with N objects (default 1 000 000) spread over a 10° × 10° patch
(about 10 000 per square degree, a dense survey field), then times `object_cone_search`
(5″ and 60″ cones) and `objects_near` (the neighbourhood the objects stage and the
association read) at random centres in the patch, and prints the query plans that show
the HEALPix index is used (no full-table scan). SQLite always; PostgreSQL too when
``--postgres`` is given: a throw-away cluster is created with the Debian binaries
(``initdb``/``pg_ctl`` as the ``postgres`` user, on a free port) and removed afterwards.

    python benchmarks/object_queries.py [--objects N] [--postgres] [--out docs/object-queries.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy_healpix import HEALPix
from sqlalchemy import and_, insert, or_, select, text

from astrid.catalog import Catalog, object_cone_search, objects_near
from astrid.catalog.database import connect
from astrid.catalog.models import HEALPIX_NSIDE, SkyObject
from astrid.catalog.sky_index import cone_ranges

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PATCH = (150.0, 2.0, 10.0)  # ra, dec centre and side, degrees


def _fill(catalog: Catalog, n: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    ra0, dec0, side = PATCH
    start = time.perf_counter()
    chunk = 20_000
    with catalog.session() as session, session.begin():
        for first in range(0, n, chunk):
            m = min(chunk, n - first)
            ra = ra0 + (rng.random(m) - 0.5) * side / np.cos(np.radians(dec0))
            dec = dec0 + (rng.random(m) - 0.5) * side
            pix = HEALPix(nside=HEALPIX_NSIDE, order="nested").lonlat_to_healpix(
                ra * u.deg, dec * u.deg
            )
            rows = [
                {
                    "name": f"BENCH{first + k:09d}",
                    "ra": float(ra[k]),
                    "dec": float(dec[k]),
                    "healpix": int(pix[k]),
                    "n_detections": 1,
                    "year": 2026,
                    "year_sequence": first + k,
                    "n_nondetections": 0,
                    "moving": False,
                }
                for k in range(m)
            ]
            session.execute(insert(SkyObject), rows)
    return time.perf_counter() - start


def _time(fn, centres: np.ndarray) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times, found = [], []
    for ra, dec in centres:
        start = time.perf_counter()
        found.append(len(fn(float(ra), float(dec))))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), float(np.mean(found))


def _plan(catalog: Catalog, dialect: str) -> str:
    ranges = cone_ranges(PATCH[0], PATCH[1], 5 / 3600)
    query = select(SkyObject.id, SkyObject.ra, SkyObject.dec).where(
        or_(*(and_(SkyObject.healpix >= a, SkyObject.healpix < b) for a, b in ranges))
    )
    engine = catalog.engine
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        rows = conn.execute(text(prefix + str(compiled))).all()
    return "\n".join(" | ".join(str(v) for v in row) for row in rows)


def measure(url: str, dialect: str, n: int, queries: int, seed: int) -> dict[str, object]:
    catalog = connect(url)
    fill_s = _fill(catalog, n, seed)
    if dialect == "postgresql":
        with catalog.engine.begin() as conn:
            conn.execute(text("ANALYZE objects"))
    rng = np.random.default_rng(seed + 1)
    ra0, dec0, side = PATCH
    centres = np.column_stack(
        [
            ra0 + (rng.random(queries) - 0.5) * side * 0.9,
            dec0 + (rng.random(queries) - 0.5) * side * 0.9,
        ]
    )
    out: dict[str, object] = {"dialect": dialect, "objects": n, "fill_s": fill_s}
    for radius in (5.0, 60.0):
        med, mean_found = _time(
            lambda ra, dec, r=radius: object_cone_search(
                catalog, ra=ra, dec=dec, radius_deg=r / 3600
            ),
            centres,
        )
        out[f"cone_{radius:g}_ms"] = med
        out[f"cone_{radius:g}_found"] = mean_found
    med, mean_found = _time(lambda ra, dec: objects_near(catalog, ra, dec, 1.5 / 3600), centres)
    out["near_1.5_ms"], out["near_1.5_found"] = med, mean_found
    out["plan"] = _plan(catalog, dialect)
    catalog.engine.dispose()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL cluster (run as the postgres user when we are root)."""
    folder = Path(tempfile.mkdtemp(prefix="astrid-pg-"))
    data, port = folder / "data", _free_port()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(folder, "postgres")
    subprocess.run(
        [*as_user, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "astrid"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_user,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            f"-p {port} -k {folder}",
            "-w",
            "start",
            "-l",
            str(folder / "log"),
        ],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [
                *as_user,
                str(PG_BIN / "createdb"),
                "-h",
                str(folder),
                "-p",
                str(port),
                "-U",
                "astrid",
                "astrid",
            ],
            check=True,
        )
        yield f"postgresql+psycopg://astrid@127.0.0.1:{port}/astrid"
    finally:
        subprocess.run(
            [*as_user, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--postgres", action="store_true", help="also on a temporary PostgreSQL")
    parser.add_argument("--out", type=Path, default=None, help="write a Markdown report here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(
            measure(
                f"sqlite:///{tmp}/bench.sqlite", "sqlite", args.objects, args.queries, args.seed
            )
        )
    if args.postgres:
        with postgres() as url:
            results.append(measure(url, "postgresql", args.objects, args.queries, args.seed))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    command = f"python benchmarks/object_queries.py --objects {args.objects}"
    command += f" --queries {args.queries}" + (" --postgres" if args.postgres else "")
    lines = [
        f"Machine: {machine}. Command: `{command}`.",
        "",
        "| database | objects | fill (s) | cone 5″ median (ms) | found | cone 60″ median (ms) "
        "| found | neighbourhood 1.5″ median (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['dialect']} | {r['objects']:,} | {r['fill_s']:.1f} | {r['cone_5_ms']:.2f} "
            f"| {r['cone_5_found']:.2f} | {r['cone_60_ms']:.2f} | {r['cone_60_found']:.1f} "
            f"| {r['near_1.5_ms']:.2f} |"
        )
    for r in results:
        lines += [
            "",
            f"Query plan of a 5″ cone on {r['dialect']}:",
            "",
            "```",
            str(r["plan"]),
            "```",
        ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
