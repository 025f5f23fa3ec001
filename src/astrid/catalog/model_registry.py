"""Model versions: register, activate, look up, and record which version scored what.

A model version is a file in the object store (``file_key``, content-addressed) with the
hash of the data it was trained on, its metrics and its model card. Versions count up per
model ``name``; at most one per name is active, and `astrid run` scores with it.
Registering the same file twice returns the existing version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from astrid.catalog.json_columns import dumps_json
from astrid.catalog.models import Candidate, ModelVersion
from astrid.catalog.records import record_from_row
from astrid.catalog.repository import Catalog, catalog_errors
from astrid.errors import StorageError

__all__ = [
    "SCORE_FIELDS",
    "ModelRecord",
    "activate_model",
    "active_model",
    "get_model",
    "list_models",
    "model_by_id",
    "models_of_run",
    "register_model",
    "update_scores",
]

#: Candidate columns a model writes.
SCORE_FIELDS = ("rb", "ood", "ood_msp", "ood_energy", "ood_mahalanobis")


@dataclass(frozen=True)
class ModelRecord:
    """One registered model version."""

    id: int
    name: str
    version: int
    file_key: str
    data_hash: str
    metrics: dict[str, Any]
    card: dict[str, Any]
    active: bool
    created_at: datetime


def _record(row: ModelVersion) -> ModelRecord:
    return record_from_row(
        ModelRecord,
        row,
        metrics=json.loads(row.metrics_json),
        card=json.loads(row.card_json) if row.card_json else {},
    )


def register_model(
    catalog: Catalog,
    *,
    name: str,
    file_key: str,
    data_hash: str,
    metrics: Mapping[str, Any],
    card: Mapping[str, Any],
    activate: bool = True,
) -> ModelRecord:
    """Add a version of model `name` (the next number), or return the one with this file.

    With `activate`, it becomes the active version (an existing one is re-activated).

    Raises
    ------
    StorageError
        If the write fails or the metrics/card cannot be stored as JSON.
    """
    metrics_json = dumps_json(metrics, f"metrics of model {name}")
    card_json = dumps_json(card, f"card of model {name}")
    for attempt in range(5):
        try:
            return _register(catalog, name, file_key, data_hash, metrics_json, card_json, activate)
        except StorageError as e:
            # two processes numbering a version at once (two service replicas registering
            # the shipped model): the loser's insert breaks the unique (name, version);
            # looking again finds the winner's row for this file, or the next number
            if attempt == 4 or not isinstance(e.__cause__, IntegrityError):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _register(
    catalog: Catalog,
    name: str,
    file_key: str,
    data_hash: str,
    metrics_json: str,
    card_json: str,
    activate: bool,
) -> ModelRecord:
    with catalog_errors(f"register model {name}", name=name):
        with catalog.session() as session, session.begin():
            row = session.scalars(
                select(ModelVersion).where(
                    ModelVersion.name == name, ModelVersion.file_key == file_key
                )
            ).first()
            if row is None:
                latest = session.scalar(
                    select(func.max(ModelVersion.version)).where(ModelVersion.name == name)
                )
                row = ModelVersion(
                    name=name,
                    version=(latest or 0) + 1,
                    file_key=file_key,
                    data_hash=data_hash,
                    metrics_json=metrics_json,
                    card_json=card_json,
                    active=False,
                )
                session.add(row)
                session.flush()
            if activate:
                session.execute(
                    update(ModelVersion).where(ModelVersion.name == name).values(active=False)
                )
                row.active = True
            session.flush()
            return _record(row)


def activate_model(catalog: Catalog, name: str, version: int) -> ModelRecord:
    """Make `version` the active version of `name`.

    Raises
    ------
    StorageError
        If there is no such version.
    """
    with catalog_errors(f"activate model {name} v{version}", name=name, version=version):
        with catalog.session() as session, session.begin():
            row = session.scalars(
                select(ModelVersion).where(
                    ModelVersion.name == name, ModelVersion.version == version
                )
            ).first()
            if row is None:
                raise StorageError(f"no model {name!r} version {version}", name=name)
            session.execute(
                update(ModelVersion).where(ModelVersion.name == name).values(active=False)
            )
            row.active = True
            session.flush()
            return _record(row)


def active_model(catalog: Catalog, name: str) -> ModelRecord | None:
    """The active version of `name`, if any."""
    with catalog_errors(f"read the active model {name}"), catalog.session() as session:
        row = session.scalars(
            select(ModelVersion).where(ModelVersion.name == name, ModelVersion.active)
        ).first()
        return _record(row) if row is not None else None


def get_model(catalog: Catalog, name: str, version: int) -> ModelRecord:
    """One version of `name`; `StorageError` if it does not exist."""
    with catalog_errors(f"read model {name} v{version}"), catalog.session() as session:
        row = session.scalars(
            select(ModelVersion).where(ModelVersion.name == name, ModelVersion.version == version)
        ).first()
        if row is None:
            raise StorageError(f"no model {name!r} version {version}", name=name)
        return _record(row)


def list_models(
    catalog: Catalog, name: str | None = None, *, newest_first: bool = False
) -> list[ModelRecord]:
    """Every version (of `name`) by name, oldest version first (or newest)."""
    version = ModelVersion.version.desc() if newest_first else ModelVersion.version
    query = select(ModelVersion).order_by(ModelVersion.name, version)
    if name is not None:
        query = query.where(ModelVersion.name == name)
    with catalog_errors("list models"), catalog.session() as session:
        return [_record(row) for row in session.scalars(query)]


def model_by_id(catalog: Catalog, model_id: int) -> ModelRecord | None:
    """One model version by its id, or None."""
    with catalog_errors(f"read model version {model_id}"), catalog.session() as session:
        row = session.get(ModelVersion, model_id)
        return None if row is None else _record(row)


def models_of_run(catalog: Catalog, run_id: int) -> list[ModelRecord]:
    """The model versions that scored candidates of run ``run_id``, by id."""
    used = select(Candidate.model_version_id).where(Candidate.run_id == run_id).distinct()
    query = select(ModelVersion).where(ModelVersion.id.in_(used)).order_by(ModelVersion.id)
    with catalog_errors(f"read the models of run {run_id}"), catalog.session() as session:
        return [_record(row) for row in session.scalars(query)]


def update_scores(
    catalog: Catalog,
    candidate_ids: Sequence[int],
    scores: Mapping[str, Any],
    model_version_id: int,
) -> int:
    """Write the `SCORE_FIELDS` of candidates and the version that made them (one transaction).

    Returns
    -------
    int
        Candidates updated.

    Raises
    ------
    StorageError
        If a score column is missing or of the wrong length, a candidate or the model
        version does not exist, or the write fails; nothing is changed then.
    """
    n = len(candidate_ids)
    for name in SCORE_FIELDS:
        if name not in scores or len(scores[name]) != n:
            raise StorageError(f"scores: column {name!r} missing or not {n} long", field=name)
    with catalog_errors("update candidate scores"):
        with catalog.session() as session, session.begin():
            if session.get(ModelVersion, model_version_id) is None:
                raise StorageError(f"no model version with id {model_version_id}")
            found = session.scalar(
                select(func.count()).select_from(Candidate).where(Candidate.id.in_(candidate_ids))
            )
            if found != len(set(candidate_ids)):
                raise StorageError(
                    f"scores: {len(set(candidate_ids)) - (found or 0)} of the candidates do "
                    "not exist"
                )
            session.execute(
                update(Candidate),
                [
                    {
                        "id": int(cid),
                        "model_version_id": model_version_id,
                        **{name: float(scores[name][k]) for name in SCORE_FIELDS},
                    }
                    for k, cid in enumerate(candidate_ids)
                ],
            )
    return n
