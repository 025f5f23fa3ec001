"""Install catalogues into the local context directory from tables or the fink-science wheel."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from astrid.context.catalogues import BUILTIN_CATALOGUES, Catalogue, CatalogueSpec, Kind
from astrid.context.registry import save_catalogue
from astrid.errors import ConfigurationError
from astrid.observations.tables import coordinate_column, read_table


@dataclass
class InstallReport:
    """What an install did: catalogues written (name → rows) and problems per catalogue."""

    installed: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _as_text(column: object) -> np.ndarray:
    """Strings of a column with masked entries and None as empty strings."""
    mask = np.asarray(getattr(column, "mask", False))
    values = np.asarray(column)
    mask = np.broadcast_to(mask, values.shape)
    out = [
        "" if m or v is None else (v.decode() if isinstance(v, bytes) else str(v)).strip()
        for v, m in zip(values, mask, strict=True)
    ]
    out = ["" if v == "None" else v for v in out]  # parquet nulls read back as "None"
    return np.asarray(out, dtype=str)


def catalogue_from_table(path: Path, spec: CatalogueSpec, source: str = "") -> Catalogue:
    """Read a table file into a Catalogue following ``spec``; ConfigurationError on bad input."""
    table = read_table(path)
    where = str(path)
    ra = coordinate_column(table, spec.ra_col, "hourangle", where)
    dec = coordinate_column(table, spec.dec_col, "deg", where)
    ok = np.isfinite(ra) & np.isfinite(dec)

    def text(col: str | None) -> np.ndarray:
        if col is None:
            return np.full(len(table), "", dtype=str)
        if col not in table.colnames:
            raise ConfigurationError(f"{where}: no column {col!r}")
        return _as_text(table[col])

    if spec.name_col is None:
        names = np.asarray([f"{spec.name}#{i}" for i in range(len(table))], dtype=str)
    else:
        names = text(spec.name_col)
    types = text(spec.type_col)
    cols = {}
    for c in spec.columns:
        if c not in table.colnames:
            raise ConfigurationError(f"{where}: no report column {c!r}")
        arr = np.asarray(table[c])
        masked = bool(np.any(getattr(table[c], "mask", False)))
        cols[c] = (_as_text(table[c]) if arr.dtype.kind in "OUS" or masked else arr)[ok]
    dist = None
    if spec.distance_col is not None:
        if spec.distance_col not in table.colnames:
            raise ConfigurationError(f"{where}: no distance column {spec.distance_col!r}")
        dist = np.asarray(table[spec.distance_col], dtype=np.float64)[ok]
    return Catalogue(spec, ra[ok], dec[ok], names[ok], types[ok], cols, dist, source or where)


def add_catalogue(
    path: Path,
    name: str,
    *,
    ra_col: str,
    dec_col: str,
    name_col: str | None,
    type_col: str | None,
    kind: Kind,
    radius_arcsec: float,
    columns: tuple[str, ...] = (),
    directory: Path,
    distance_col: str | None = None,
    citation: str = "",
) -> int:
    """Register a user table (CSV/FITS/parquet/ECSV) as a catalogue; returns its row count."""
    spec = CatalogueSpec(
        name,
        Path(path).name,
        ra_col,
        dec_col,
        name_col,
        type_col,
        kind,
        radius_arcsec,
        tuple(columns),
        distance_col,
        citation,
    )
    cat = catalogue_from_table(Path(path), spec)
    save_catalogue(cat, directory)
    return len(cat)


def _download_wheel(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "fink-science", "-d", str(dest)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("fink_science*.whl"))
    if done.returncode != 0 or not wheels:
        raise ConfigurationError(f"pip download fink-science failed: {done.stderr.strip()[-400:]}")
    return wheels[-1]


def install_catalogues(source: Path | None, directory: Path) -> InstallReport:
    """Install the built-in catalogues from the fink-science wheel, a local wheel or a folder.

    Parameters
    ----------
    source : Path or None
        None downloads the wheel with pip; a ``.whl`` file or a folder of catalogue files.
    directory : Path
        Context directory to write ``<name>.npz`` and ``registry.json`` into.
    """
    report = InstallReport()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        src = _download_wheel(tmpdir) if source is None else Path(source)
        if src.is_file() and src.suffix == ".whl":
            with zipfile.ZipFile(src) as zf:
                members = [m for m in zf.namelist() if "/data/catalogs/" in m]
                zf.extractall(tmpdir / "wheel", members)
            root = tmpdir / "wheel"
        elif src.is_dir():
            root = src
        else:
            raise ConfigurationError(f"{src}: not a wheel or a folder")
        for spec in BUILTIN_CATALOGUES.values():
            files = sorted(p for p in root.rglob(spec.pattern) if p.is_file())
            if not files:
                report.problems.append(f"{spec.name}: no file matching {spec.pattern!r} in {src}")
                continue
            try:
                cat = catalogue_from_table(files[0], spec, source=f"{src.name}:{files[0].name}")
                save_catalogue(cat, directory)
                report.installed[spec.name] = len(cat)
            except ConfigurationError as exc:
                report.problems.append(f"{spec.name}: {exc}")
    return report
