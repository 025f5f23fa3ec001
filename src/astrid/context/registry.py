"""Local catalogue store: compact ``.npz`` files plus ``registry.json``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from astrid.context.catalogues import Catalogue, CatalogueSpec
from astrid.errors import ConfigurationError

REGISTRY_FILE = "registry.json"


def save_catalogue(cat: Catalogue, directory: Path) -> dict[str, object]:
    """Write a catalogue sorted by dec to ``<directory>/<name>.npz`` and register it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    order = np.argsort(cat.dec, kind="stable")
    arrays: dict[str, np.ndarray] = {
        "ra": cat.ra[order],
        "dec": cat.dec[order],
        "names": np.asarray(cat.names, dtype=str)[order],
        "types": np.asarray(cat.types, dtype=str)[order],
    }
    if cat.distance_mpc is not None:
        arrays["distance_mpc"] = np.asarray(cat.distance_mpc, dtype=np.float64)[order]
    for key, col in cat.columns.items():
        arr = np.asarray(col)
        arrays[f"col:{key}"] = (arr.astype(str) if arr.dtype == object else arr)[order]
    path = directory / f"{cat.spec.name}.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    entry: dict[str, object] = {
        "name": cat.spec.name,
        "file": path.name,
        "spec": {**asdict(cat.spec), "columns": list(cat.spec.columns)},
        "rows": len(cat),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "source": cat.source,
        "citation": cat.spec.citation,
    }
    registry = read_registry(directory) if (directory / REGISTRY_FILE).exists() else {}
    registry[cat.spec.name] = entry
    (directory / REGISTRY_FILE).write_text(json.dumps(registry, indent=2))
    return entry


def read_registry(directory: Path) -> dict[str, dict[str, object]]:
    """Parse ``registry.json``, raising ConfigurationError if absent or corrupt."""
    path = Path(directory) / REGISTRY_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigurationError(f"{path}: not found; run `astrid context install`") from exc
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{path}: corrupt registry: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: corrupt registry: expected an object")
    return data


def remove_catalogue(name: str, directory: Path) -> None:
    """Delete a catalogue file and its registry entry; ConfigurationError if unknown."""
    registry = read_registry(directory)
    if name not in registry:
        raise ConfigurationError(f"{Path(directory) / REGISTRY_FILE}: no catalogue {name!r}")
    entry = registry.pop(name)
    (Path(directory) / str(entry["file"])).unlink(missing_ok=True)
    (Path(directory) / REGISTRY_FILE).write_text(json.dumps(registry, indent=2))


def _load_one(directory: Path, entry: dict[str, object]) -> Catalogue:
    spec_d = dict(entry["spec"])  # type: ignore[call-overload]
    spec_d["columns"] = tuple(spec_d.get("columns", ()))
    spec = CatalogueSpec(**spec_d)
    path = directory / str(entry["file"])
    if not path.is_file():
        raise ConfigurationError(f"{path}: catalogue file missing")
    if hashlib.sha256(path.read_bytes()).hexdigest() != entry.get("sha256"):
        raise ConfigurationError(f"{path}: checksum mismatch (corrupt or modified)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "ra" not in data or "dec" not in data:
                raise ConfigurationError(f"{path}: lacks ra/dec arrays")
            cols = {k[4:]: data[k] for k in data.files if k.startswith("col:")}
            return Catalogue(
                spec=spec,
                ra=data["ra"],
                dec=data["dec"],
                names=data["names"],
                types=data["types"],
                columns=cols,
                distance_mpc=data["distance_mpc"] if "distance_mpc" in data.files else None,
                source=str(entry.get("source", "")),
            )
    except ConfigurationError:
        raise
    except Exception as exc:
        raise ConfigurationError(f"{path}: corrupt catalogue file: {exc}") from exc


def load_catalogues(
    directory: Path, names: list[str] | None = None
) -> tuple[list[Catalogue], list[str]]:
    """Load installed catalogues; problems are reported, not raised.

    Parameters
    ----------
    directory : Path
        The context directory holding ``registry.json``.
    names : list of str, optional
        Catalogues to load; all registered ones if None.

    Returns
    -------
    (list of Catalogue, list of str)
        Loaded catalogues and one message per catalogue that could not be loaded.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return [], [f"{directory}: no context directory; run `astrid context install`"]
    try:
        registry = read_registry(directory)
    except ConfigurationError as exc:
        return [], [str(exc)]
    wanted = list(registry) if names is None else names
    cats: list[Catalogue] = []
    problems: list[str] = []
    for name in wanted:
        if name not in registry:
            problems.append(f"{directory / REGISTRY_FILE}: catalogue {name!r} not installed")
            continue
        try:
            cats.append(_load_one(directory, registry[name]))
        except (ConfigurationError, TypeError, KeyError) as exc:
            problems.append(f"catalogue {name!r}: {exc}")
    return cats, problems
