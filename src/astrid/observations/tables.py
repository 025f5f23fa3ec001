"""Read tables (parquet, FITS, CSV, ECSV) of catalogues and their RA/Dec columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.coordinates import Angle
from astropy.table import Table
from numpy.typing import NDArray

from astrid.errors import ConfigurationError

_FORMATS: dict[str, str] = {
    ".parquet": "parquet",
    ".fits": "fits",
    ".fit": "fits",
    ".fits.gz": "fits",
    ".csv": "ascii.csv",
    ".ecsv": "ascii.ecsv",
}


def table_format(path: Path) -> str:
    """Astropy reader format for a file by its suffix, or raise ConfigurationError."""
    name = path.name.lower()
    for suffix, fmt in sorted(_FORMATS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return fmt
    raise ConfigurationError(f"{path}: unsupported catalogue format (use {sorted(_FORMATS)})")


def read_table(path: Path) -> Table:
    """Read a catalogue table, raising ConfigurationError naming the file on failure."""
    path = Path(path)
    if not path.is_file():
        raise ConfigurationError(f"{path}: catalogue file not found")
    fmt = table_format(path)
    try:
        return Table.read(path, format=fmt)
    except Exception as exc:  # astropy/pyarrow raise many types for corrupt files
        raise ConfigurationError(f"{path}: cannot read as {fmt}: {exc}") from exc


def coordinate_column(table: Table, column: str, unit: str, source: str) -> NDArray[np.float64]:
    """A RA (``unit="hourangle"``) or Dec (``"deg"``) column in degrees.

    Numeric columns are taken as degrees; string columns may be sexagesimal
    (RA in hours, Dec in degrees) or decimal degrees.
    """
    if column not in table.colnames:
        raise ConfigurationError(f"{source}: no column {column!r} (has {table.colnames[:20]})")
    values = np.asarray(table[column])
    if values.dtype.kind in "fiu":
        out = values.astype(np.float64)
    else:
        text = [str(v).strip() for v in values]
        try:
            out = np.array([float(t) for t in text], dtype=np.float64)
        except ValueError:
            try:
                out = np.asarray(Angle(text, unit=unit).degree, dtype=np.float64)
            except Exception as exc:
                raise ConfigurationError(
                    f"{source}: column {column!r} is not a coordinate: {exc}"
                ) from exc
    return out
