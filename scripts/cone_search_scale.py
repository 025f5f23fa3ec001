"""Cone search on a large catalog: HEALPix index ranges vs a full table scan.

    python scripts/cone_search_scale.py --rows 1000000 --radius-arcsec 60 [--db /tmp/cone.sqlite]

Fills a fresh SQLite catalog with ``--rows`` candidates spread uniformly over a 10°×10°
field (one observation, one run), then times `astrid.catalog.candidates.cone_search` at random
centres against the same cone done by scanning every row (``NOT INDEXED``), and prints the
query plan SQLite chose for the index query.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy_healpix import HEALPix
from sqlalchemy import event, insert

from astrid.catalog import connect
from astrid.catalog.candidates import cone_search
from astrid.catalog.models import HEALPIX_NSIDE, Candidate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--radius-arcsec", type=float, default=60.0)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    db = args.db or Path(tempfile.mkdtemp()) / "cone.sqlite"
    catalog = connect(f"sqlite:///{db}")
    obs = catalog.register_observation(
        content_sha256="0" * 64,
        name="field",
        path="/dev/null",
        role="science",
        mjd=60000.0,
        filter="r",
        exptime=60.0,
        gain=1.0,
        shape=(4096, 4096),
        wcs_header=None,
        store_key=None,
    )
    run = catalog.start_run(
        key="scale", science_id=obs, reference_id=None, config={}, code_version="scale"
    )
    catalog.finish_run(run, candidates=[], stats={}, timings={}, products={})
    rng = np.random.default_rng(0)
    ra = rng.uniform(145.0, 155.0, args.rows)
    dec = np.degrees(
        np.arcsin(rng.uniform(np.sin(np.radians(-3.0)), np.sin(np.radians(7.0)), args.rows))
    )
    hp = HEALPix(nside=HEALPIX_NSIDE, order="nested")
    import astropy.units as u

    pix = hp.lonlat_to_healpix(ra * u.deg, dec * u.deg)
    start = time.perf_counter()
    with catalog.engine.begin() as conn:
        for lo in range(0, args.rows, 50_000):
            rows = [
                {
                    "run_id": run,
                    "observation_id": obs,
                    "number": i,
                    "x": 0.0,
                    "y": 0.0,
                    "ra": float(ra[i]),
                    "dec": float(dec[i]),
                    "healpix": int(pix[i]),
                    "sign": 1,
                    "scorr": 6.0,
                    "n_bad_pixels": 0,
                }
                for i in range(lo, min(lo + 50_000, args.rows))
            ]
            conn.execute(insert(Candidate), rows)
    print(f"filled {args.rows} candidates in {time.perf_counter() - start:.1f} s ({db})")

    radius = args.radius_arcsec / 3600.0
    centres = list(
        zip(rng.uniform(146, 154, args.queries), rng.uniform(-2, 6, args.queries), strict=True)
    )
    issued: list[tuple[str, object]] = []

    def capture(conn: object, cursor: object, statement: str, params: object, *_: object) -> None:
        issued.append((statement, params))

    event.listen(catalog.engine, "before_cursor_execute", capture)
    indexed, found = [], []
    for c_ra, c_dec in centres:
        t = time.perf_counter()
        found.append(len(cone_search(catalog, ra=c_ra, dec=c_dec, radius_deg=radius)))
        indexed.append((time.perf_counter() - t) * 1000)
    event.remove(catalog.engine, "before_cursor_execute", capture)
    statement, params = issued[-1]
    with catalog.engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
        scans = []
        for c_ra, c_dec in centres[:5]:
            t = time.perf_counter()
            conn.exec_driver_sql(
                "SELECT id, ra, dec FROM candidates NOT INDEXED WHERE ra BETWEEN ? AND ? "
                "AND dec BETWEEN ? AND ?",
                (c_ra - radius, c_ra + radius, c_dec - radius, c_dec + radius),
            ).all()
            scans.append((time.perf_counter() - t) * 1000)
    print("plan:", " | ".join(str(r[-1]) for r in plan))
    print(
        f'cone r={args.radius_arcsec}": median {statistics.median(indexed):.2f} ms, '
        f"max {max(indexed):.2f} ms, median {statistics.median(found):.0f} matches"
    )
    print(f"full scan of the same box: median {statistics.median(scans):.1f} ms")


if __name__ == "__main__":
    main()
