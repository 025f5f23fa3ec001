"""The ML stage: which model version scores candidates, and scoring with it.

`resolve_model` picks the version (the active one of the catalog's ``realbogus`` models,
or one asked for by number); on a catalog with none it registers the model file shipped
in the package as version 1. The file is validated (`RealBogusModel.load`) before any
frame is processed, so a missing, corrupt or foreign model stops the run with a
`ModelError` instead of writing wrong scores. Workers get a picklable `ScoringModel` and
load the file once per process.

`rescore` scores stored candidates again with another version (``astrid rescore``).
"""

from __future__ import annotations

import io
import logging
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from astrid.catalog import Catalog
from astrid.catalog.model_registry import (
    ModelRecord,
    active_model,
    get_model,
    list_models,
    register_model,
    update_scores,
)
from astrid.detection.realbogus import RealBogusModel, shipped_model_path
from astrid.errors import ModelError, StorageError
from astrid.observations.hashing import file_sha256
from astrid.store import ObjectStore

__all__ = [
    "MODEL_NAME",
    "ScoringModel",
    "add_realbogus_scores",
    "register_model_file",
    "rescore",
    "resolve_model",
    "stored_cutouts",
    "version_labels",
]

log = logging.getLogger(__name__)

MODEL_NAME = "realbogus"


@dataclass(frozen=True)
class ScoringModel:
    """What a worker needs to score: a validated local model file and its catalog version."""

    path: str
    sha256: str
    version_id: int
    version: int
    file_key: str | None = None  # its object in the store (a Dask worker fetches it)

    @property
    def label(self) -> str:
        return f"{MODEL_NAME} v{self.version}"


def register_model_file(
    catalog: Catalog, store: ObjectStore, path: str | Path, *, activate: bool = True
) -> ModelRecord:
    """Validate a model file, put it in the store and register it (idempotent per file).

    Raises
    ------
    ModelError
        If the file is not a usable model.
    """
    model = RealBogusModel.load(path)
    key = store.put_file(path, suffix=".onnx")
    card = model.public_card
    return register_model(
        catalog,
        name=MODEL_NAME,
        file_key=key,
        data_hash=str(card.get("data", {}).get("digest", "")),
        metrics=card.get("metrics", {}),
        card=card,
        activate=activate,
    )


def local_model_file(
    store: ObjectStore, file_key: str, label: str, cache_dir: Path | None = None
) -> Path:
    """A local path of the stored model ``file_key``: the store's own file when it is local,
    else a copy in ``cache_dir`` (default: the temp dir's ``astrid-models``), fetched once
    per host and written whole (a temporary name moved into place), so concurrent workers
    never read half a file and a reused path reuses the loaded model.

    Raises
    ------
    ModelError
        If the store does not hold the file (``label`` names the model).
    """
    try:
        local = store.local_path(file_key)
    except StorageError as e:
        raise ModelError(
            f"model {label}: file {file_key} missing from the store ({e})", key=file_key
        ) from e
    if local is not None:
        return local
    directory = cache_dir or Path(tempfile.gettempdir()) / "astrid-models"
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / file_key.replace("/", "_")
    if not target.is_file():
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        partial.write_bytes(store.get_bytes(file_key))
        partial.replace(target)
    return target


def resolve_model(
    catalog: Catalog,
    store: ObjectStore,
    *,
    version: int | None = None,
    cache_dir: Path | None = None,
) -> ScoringModel:
    """The model version to score with, validated and available as a local file.

    Raises
    ------
    ModelError
        If the file is missing or not a usable model.
    StorageError
        If `version` does not exist.
    """
    record: ModelRecord | None
    if version is not None:
        record = get_model(catalog, MODEL_NAME, version)
    else:
        record = active_model(catalog, MODEL_NAME)
        if record is None:
            record = register_model_file(catalog, store, shipped_model_path())
            log.info("registered the shipped model as %s v%d", MODEL_NAME, record.version)
    path = local_model_file(store, record.file_key, f"{MODEL_NAME} v{record.version}", cache_dir)
    # Validated through the per-process cache, so an inline run does not load it again.
    model = _load(str(path), file_sha256(path), 0)
    return ScoringModel(str(path), model.sha256, record.id, record.version, record.file_key)


@lru_cache(maxsize=4)
def _load(path: str, sha256: str, threads: int) -> RealBogusModel:
    model = RealBogusModel.load(path, threads=threads)
    if model.sha256 != sha256:
        raise ModelError(f"{path}: model file changed since it was chosen", path=path)
    return model


def add_realbogus_scores(
    model: ScoringModel, candidates: Table, cutouts: np.ndarray, *, threads: int = 0
) -> Table:
    """`candidates` with the `SCORE_FIELDS` columns added (a copy)."""
    scores = _load(model.path, model.sha256, threads).score(candidates, cutouts)
    out = candidates.copy(copy_data=False)
    for name, values in scores.columns().items():
        out[name] = values
    return out


def stored_cutouts(store: ObjectStore, rows: Sequence[dict[str, object]]) -> np.ndarray:
    """``(n, 3, s, s)`` triplets of catalog candidate rows, from the store."""
    stacks = []
    for row in rows:
        planes = []
        for kind in ("science", "reference", "difference"):
            key = row.get(f"cutout_{kind}_key")
            if not key:
                raise StorageError(f"candidate {row.get('id')}: no {kind} cutout stored")
            planes.append(fits.getdata(io.BytesIO(store.get_bytes(str(key)))).astype(np.float32))
        stacks.append(np.stack(planes))
    return np.stack(stacks) if stacks else np.zeros((0, 3, 63, 63), np.float32)


def rescore(
    catalog: Catalog,
    store: ObjectStore,
    model: ScoringModel,
    *,
    run_ids: Sequence[int] | None = None,
    on_run: Callable[[int, int], None] | None = None,
) -> int:
    """Score the candidates of finished runs (all, or `run_ids`) with `model`.

    Each run is updated in one transaction. Returns the number of candidates scored.
    """
    runs = run_ids if run_ids is not None else [r.id for r in catalog.runs() if r.status == "done"]
    scorer = _load(model.path, model.sha256, 0)
    total = 0
    for run_id in runs:
        rows = catalog.candidates(run_id=run_id)
        if not rows:
            continue
        scores = scorer.score(rows, stored_cutouts(store, rows))
        total += update_scores(
            catalog, [int(r["id"]) for r in rows], scores.columns(), model.version_id
        )
        if on_run:
            on_run(run_id, len(rows))
    return total


def version_labels(catalog: Catalog) -> dict[int, str]:
    """``model_version_id`` → ``"realbogus v3"`` for every registered version."""
    return {r.id: f"{r.name} v{r.version}" for r in list_models(catalog)}
