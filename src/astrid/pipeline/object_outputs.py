"""``objects.csv`` and ``lightcurves.csv``: the objects a batch's runs touched, as files.

One row per object that the runs of the output folder detected or measured
(`astrid.catalog.objects_of_runs`), and one row per light-curve point of those objects
(every point, from any run: the whole light curve). Magnitudes come from
`astrid.objects.magnitudes`: a magnitude and its error for detections, a 5σ upper limit for
non-detections, empty when the image had no zero point. Files are written whole and
renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from astrid.catalog import Catalog, ObjectRecord, light_curves, objects_by_id, objects_of_runs
from astrid.objects import magnitudes

__all__ = ["LIGHTCURVE_COLUMNS", "OBJECT_COLUMNS", "write_object_tables"]

#: Columns of objects.csv, in order.
OBJECT_COLUMNS = (
    "object_id",
    "name",
    "ra",
    "dec",
    "n_detections",
    "n_nondetections",
    "first_mjd",
    "last_mjd",
    "peak_mjd",
    "peak_mag",
    "peak_band",
    "rise_rate",
    "decline_rate",
    "context_class",
    "context_reason",
    "xmatch_catalog",
    "xmatch_name",
    "xmatch_type",
    "xmatch_sep_arcsec",
    "host_name",
    "host_sep_arcsec",
    "host_dlr",
    "host_distance_mpc",
    "moving",
)

#: Columns of lightcurves.csv, in order.
LIGHTCURVE_COLUMNS = (
    "object_id",
    "name",
    "mjd",
    "band",
    "flux",
    "flux_err",
    "mag",
    "mag_err",
    "upper_limit_mag",
    "detected",
    "candidate_id",
    "run_id",
    "observation_id",
)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, bool):
        return int(value)
    return value


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_cell(v) for v in row])
    os.replace(temporary, path)


def _object_row(record: ObjectRecord) -> list[Any]:
    return [getattr(record, c) if c != "object_id" else record.id for c in OBJECT_COLUMNS]


def write_object_tables(catalog: Catalog, run_ids: Iterable[int], out: Path) -> tuple[Path, Path]:
    """Write ``out/objects.csv`` and ``out/lightcurves.csv`` for the objects of ``run_ids``."""
    ids = objects_of_runs(catalog, run_ids)
    records = objects_by_id(catalog, ids)
    objects_path, curves_path = out / "objects.csv", out / "lightcurves.csv"
    _write(objects_path, OBJECT_COLUMNS, (_object_row(records[i]) for i in ids if i in records))
    curves = light_curves(catalog, [i for i in ids if i in records])
    rows = []
    for object_id, points in curves.items():
        if not points:
            continue
        flux = np.array([np.nan if p.flux is None else p.flux for p in points], dtype=float)
        err = np.array([np.nan if p.flux_err is None else p.flux_err for p in points], dtype=float)
        zp = np.array(
            [np.nan if p.zero_point is None else p.zero_point for p in points], dtype=float
        )
        detected = np.array([p.detected for p in points], dtype=bool)
        mags = magnitudes(flux, err, zp, detected)
        for k, p in enumerate(points):
            rows.append(
                [
                    object_id,
                    records[object_id].name,
                    p.mjd,
                    p.band or "",
                    p.flux,
                    p.flux_err,
                    float(mags.mag[k]),
                    float(mags.mag_err[k]),
                    float(mags.upper_limit[k]),
                    p.detected,
                    p.candidate_id,
                    p.run_id,
                    p.observation_id,
                ]
            )
    _write(curves_path, LIGHTCURVE_COLUMNS, rows)
    return objects_path, curves_path
