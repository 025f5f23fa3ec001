"""Candidates and labels as astropy tables, written as CSV, FITS binary tables or VOTable.

Columns carry units (``ra``/``dec`` in deg, ``fwhm`` in pix, ``mjd`` in d) and missing
values are masked, so each format writes its own null (empty CSV field, NaN / TNULL in
FITS, VOTable nulls). Each candidate row also carries its label consensus
(``consensus_label``, ``consensus_class``, ``n_curators``), the training-set view.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, Literal

import astropy.units as u
import numpy as np
from astropy.table import MaskedColumn, Table

from astrid.catalog.candidates import CandidateRecord
from astrid.catalog.curation import LabelRecord
from astrid.catalog.object_records import ObjectRecord
from astrid.curation.consensus import Consensus

__all__ = [
    "EXPORT_FORMATS",
    "MEDIA_TYPES",
    "candidates_table",
    "labels_table",
    "objects_table",
    "table_bytes",
]

ExportFormat = Literal["csv", "fits", "votable"]
EXPORT_FORMATS: tuple[str, ...] = ("csv", "fits", "votable")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "fits": "application/fits",
    "votable": "application/x-votable+xml",
}
SUFFIXES = {"csv": ".csv", "fits": ".fits", "votable": ".vot"}

_CANDIDATE_COLUMNS: tuple[tuple[str, Any, u.UnitBase | None], ...] = (
    ("id", np.int64, None),
    ("run_id", np.int64, None),
    ("observation_id", np.int64, None),
    ("observation_name", str, None),
    ("number", np.int32, None),
    ("mjd", np.float64, u.day),
    ("filter", str, None),
    ("ra", np.float64, u.deg),
    ("dec", np.float64, u.deg),
    ("x", np.float64, u.pix),
    ("y", np.float64, u.pix),
    ("healpix", np.int64, None),
    ("sign", np.int16, None),
    ("scorr", np.float64, None),
    ("snr", np.float64, None),
    ("flux", np.float64, None),
    ("flux_err", np.float64, None),
    ("mag", np.float64, u.mag),
    ("mag_err", np.float64, u.mag),
    ("fwhm", np.float64, u.pix),
    ("elongation", np.float64, None),
    ("n_bad_pixels", np.int32, None),
    ("dist_nearest_ref_source_arcsec", np.float64, u.arcsec),
    ("rb", np.float64, None),
    ("ood", np.float64, None),
    ("ood_msp", np.float64, None),
    ("ood_energy", np.float64, None),
    ("ood_mahalanobis", np.float64, None),
    ("model_version_id", np.int64, None),
    ("object_id", np.int64, None),
    ("object_name", str, None),
)


def _column(name: str, values: Sequence[Any], dtype: Any, unit: u.UnitBase | None) -> MaskedColumn:
    mask = np.array([v is None for v in values], dtype=bool)
    if dtype is str:
        data: Any = np.array(["" if v is None else str(v) for v in values], dtype=str)
        if data.dtype.itemsize == 0:
            data = data.astype("U1")
    else:
        fill = 0 if np.issubdtype(dtype, np.integer) else np.nan
        data = np.array([fill if v is None else v for v in values], dtype=dtype)
    return MaskedColumn(data, name=name, mask=mask, unit=unit)


def candidates_table(
    records: Sequence[CandidateRecord], consensus: dict[int, Consensus] | None = None
) -> Table:
    """One row per candidate, with its consensus when ``consensus`` is given."""
    table = Table()
    for name, dtype, unit in _CANDIDATE_COLUMNS:
        table[name] = _column(name, [getattr(r, name) for r in records], dtype, unit)
    if consensus is not None:
        agreed = [consensus.get(r.id) for r in records]
        table["consensus_status"] = _column(
            "consensus_status", [c.status if c else "unlabelled" for c in agreed], str, None
        )
        table["consensus_label"] = _column(
            "consensus_label", [c.label if c else None for c in agreed], str, None
        )
        table["consensus_class"] = _column(
            "consensus_class", [c.label_class if c else None for c in agreed], str, None
        )
        table["n_curators"] = _column(
            "n_curators", [c.n_curators if c else 0 for c in agreed], np.int32, None
        )
    table.meta["EXTNAME"] = "CANDIDATES"
    return table


_OBJECT_COLUMNS: tuple[tuple[str, Any, u.UnitBase | None], ...] = (
    ("id", np.int64, None),
    ("name", str, None),
    ("ra", np.float64, u.deg),
    ("dec", np.float64, u.deg),
    ("n_detections", np.int32, None),
    ("n_nondetections", np.int32, None),
    ("first_mjd", np.float64, u.day),
    ("last_mjd", np.float64, u.day),
    ("peak_mjd", np.float64, u.day),
    ("peak_mag", np.float64, u.mag),
    ("peak_flux", np.float64, None),
    ("peak_band", str, None),
    ("rise_rate", np.float64, u.mag / u.day),
    ("decline_rate", np.float64, u.mag / u.day),
    ("context_class", str, None),
    ("context_reason", str, None),
    ("xmatch_catalog", str, None),
    ("xmatch_name", str, None),
    ("xmatch_type", str, None),
    ("xmatch_sep_arcsec", np.float64, u.arcsec),
    ("host_name", str, None),
    ("host_sep_arcsec", np.float64, u.arcsec),
    ("host_dlr", np.float64, None),
    ("host_distance_mpc", np.float64, u.Mpc),
    ("moving", np.bool_, None),
)


def objects_table(records: Sequence[ObjectRecord]) -> Table:
    """One row per object: position, light-curve summary, context."""
    table = Table()
    for name, dtype, unit in _OBJECT_COLUMNS:
        table[name] = _column(name, [getattr(r, name) for r in records], dtype, unit)
    table.meta["EXTNAME"] = "OBJECTS"
    return table


def labels_table(labels: Sequence[LabelRecord]) -> Table:
    """One row per label (the whole history: every curator, every change of mind)."""
    table = Table()
    table["id"] = _column("id", [r.id for r in labels], np.int64, None)
    table["candidate_id"] = _column(
        "candidate_id", [r.candidate_id for r in labels], np.int64, None
    )
    table["curator"] = _column("curator", [r.curator for r in labels], str, None)
    table["label"] = _column("label", [r.label for r in labels], str, None)
    table["comment"] = _column("comment", [r.comment for r in labels], str, None)
    table["created_at"] = _column(
        "created_at", [r.created_at.isoformat() for r in labels], str, None
    )
    table.meta["EXTNAME"] = "LABELS"
    return table


def table_bytes(table: Table, fmt: str) -> bytes:
    """``table`` written in ``fmt`` (one of `EXPORT_FORMATS`).

    Raises
    ------
    ValueError
        For an unknown format.
    """
    buffer = io.BytesIO()
    if fmt == "csv":
        text = io.StringIO()
        table.write(text, format="ascii.csv")
        return text.getvalue().encode()
    if fmt == "fits":
        table.write(buffer, format="fits")
    elif fmt == "votable":
        table.write(buffer, format="votable")
    else:
        raise ValueError(f"export format must be one of {EXPORT_FORMATS}, got {fmt!r}")
    return buffer.getvalue()
