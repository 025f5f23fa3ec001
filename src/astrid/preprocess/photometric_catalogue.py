"""Read a reference catalogue of stars (AB magnitudes) for photometric calibration.

Any table astropy reads (CSV, ECSV, FITS, parquet) with, matched case-insensitively:

* a position: ``ra``/``dec``, ``raj2000``/``dej2000``, ``ra_icrs``/``de_icrs`` or
  ``radeg``/``dedeg`` (degrees, or sexagesimal strings);
* the band's AB magnitude, for band ``b``: ``b``, ``bmag``, ``b_mag``, ``mag_b``,
  ``bmeanpsfmag`` (Pan-STARRS DR1), ``b_sdss_mag`` (Gaia DR3 synthetic photometry) or
  ``b_des_mag``; its error, where given, in ``e_<col>``, ``<col>_err``, ``<col>err`` or
  ``<col>_error``;
* optionally the neighbouring band too (g and r for g or r, r and i for i, ...): then the
  colour feeds a colour term.

The magnitudes must be AB (Pan-STARRS, SDSS, DES, SkyMapper and Gaia's synthetic SDSS
photometry are): AstrID's magnitudes are AB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table
from numpy.typing import NDArray

from astrid.errors import ConfigurationError
from astrid.observations.tables import coordinate_column, read_table
from astrid.preprocess.zero_point import BANDS, PhotometricCatalogue

__all__ = [
    "COLOURS",
    "catalogue_bands",
    "photometric_catalogue_from_table",
    "read_photometric_catalogue",
]

#: The colour used for each band's colour term: (bluer, redder).
COLOURS: dict[str, tuple[str, str]] = {
    "u": ("u", "g"),
    "g": ("g", "r"),
    "r": ("g", "r"),
    "i": ("r", "i"),
    "z": ("i", "z"),
    "y": ("z", "y"),
}

_MAGNITUDES = (
    "{b}",
    "{b}mag",
    "{b}_mag",
    "mag_{b}",
    "{b}meanpsfmag",
    "{b}_sdss_mag",
    "{b}_des_mag",
)
_POSITIONS = (("ra", "dec"), ("raj2000", "dej2000"), ("ra_icrs", "de_icrs"), ("radeg", "dedeg"))


def _columns(table: Table) -> dict[str, str]:
    """Lower-case name → the table's own spelling."""
    return {name.lower(): name for name in table.colnames}


def _magnitude(table: Table, band: str) -> tuple[str | None, str | None]:
    """The names of band ``band``'s magnitude column and its error column (or None)."""
    names = _columns(table)
    for pattern in _MAGNITUDES:
        col = pattern.format(b=band)
        if col in names:
            for err in (f"e_{col}", f"{col}_err", f"{col}err", f"{col}_error"):
                if err in names:
                    return names[col], names[err]
            return names[col], None
    return None, None


def _floats(table: Table, column: str, source: str) -> NDArray[np.float64]:
    """A numeric column as float64 with masked entries NaN."""
    values = table[column]
    try:
        data = np.ma.filled(np.ma.asarray(values, dtype=np.float64), np.nan)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{source}: column {column!r} is not numeric: {exc}") from exc
    return np.asarray(data, dtype=np.float64)


def photometric_catalogue_from_table(table: Table, band: str, source: str) -> PhotometricCatalogue:
    """A `PhotometricCatalogue` of ``band`` from a table in the layout described above.

    Raises
    ------
    ConfigurationError
        Naming ``source`` when the band is unknown, or a position or magnitude column is
        missing or not numeric.
    """
    band = band.lower()
    if band not in BANDS:
        raise ConfigurationError(f"{source}: unknown band {band!r} (use one of {BANDS})")
    names = _columns(table)
    position = next(
        ((names[r], names[d]) for r, d in _POSITIONS if r in names and d in names), None
    )
    if position is None:
        raise ConfigurationError(
            f"{source}: no RA/Dec columns (looked for {[p for p in _POSITIONS]}; "
            f"has {table.colnames[:20]})"
        )
    mag_col, err_col = _magnitude(table, band)
    if mag_col is None:
        raise ConfigurationError(
            f"{source}: no {band}-band magnitude column (looked for {band}, {band}mag, "
            f"{band}_mag, mag_{band}, {band}MeanPSFMag, {band}_sdss_mag, {band}_des_mag; "
            f"has {table.colnames[:20]})"
        )
    ra = coordinate_column(table, position[0], "hourangle", source)
    dec = coordinate_column(table, position[1], "deg", source)
    mag = _floats(table, mag_col, source)
    mag_err = _floats(table, err_col, source) if err_col else np.full(mag.shape, np.nan)
    blue, red = COLOURS[band]
    blue_col, _ = _magnitude(table, blue)
    red_col, _ = _magnitude(table, red)
    colour = None
    colour_name = None
    if blue_col is not None and red_col is not None:
        colour = _floats(table, blue_col, source) - _floats(table, red_col, source)
        colour_name = f"{blue}-{red}"
    # magnitudes outside any survey's range are blank values (e.g. -999, 99)
    mag = np.where((mag > -5) & (mag < 40), mag, np.nan)
    return PhotometricCatalogue(
        ra=ra,
        dec=dec,
        mag=mag,
        mag_err=np.where(mag_err >= 0, mag_err, np.nan),
        colour=colour,
        band=band,
        colour_name=colour_name,
        name=source,
    )


def read_photometric_catalogue(path: str | Path, band: str) -> PhotometricCatalogue:
    """Read ``path`` as a `PhotometricCatalogue` of ``band`` (see the module's layout).

    Raises
    ------
    ConfigurationError
        Naming the file when it is missing, unreadable or lacks the columns.
    """
    path = Path(path)
    table = read_table(path)
    return photometric_catalogue_from_table(table, band, str(path))


def catalogue_bands(path: str | Path, band: str | None = None) -> tuple[str, ...]:
    """The bands ``path`` can calibrate (only ``band`` when given), checking it reads.

    Raises
    ------
    ConfigurationError
        Naming the file when it is missing, unreadable, lacks RA/Dec, or has no magnitude
        column of ``band`` (or of any band in `BANDS` when ``band`` is None).
    """
    path = Path(path)
    table = read_table(path)
    bands = (band.lower(),) if band else BANDS
    usable = tuple(b for b in bands if _magnitude(table, b)[0] is not None)
    # the full read checks positions and values of the first usable band (or explains why not)
    photometric_catalogue_from_table(table, usable[0] if usable else bands[0], str(path))
    return usable
