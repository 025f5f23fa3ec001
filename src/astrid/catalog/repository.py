"""The catalog repository: the only code that reads and writes the catalog tables.

Every write is one transaction; a failure rolls it back and raises `StorageError`, leaving
what was there before intact. Non-finite floats (NaN, ±inf) are stored as NULL and read back
as None, both in columns and in JSON. Datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from astrid.catalog.candidate_rows import candidate_rows, finite_or_none
from astrid.catalog.json_columns import dumps_json
from astrid.catalog.models import (
    OBSERVATION_ROLES,
    OBSERVATION_STATUSES,
    PHOTOMETRY_COLUMNS,
    Candidate,
    Event,
    Observation,
    ProcessingRun,
    SkyObject,
    utcnow,
)
from astrid.catalog.objects import (
    associate_run,
    lock_association,
    object_ids_of_run,
    refresh_objects,
)
from astrid.catalog.run_records import RunRecord, run_record
from astrid.errors import ClaimLostError, StorageError
from astrid.objects import DEFAULT_RADIUS_ARCSEC

__all__ = [
    "Catalog",
    "EventInfo",
    "RunRecord",
    "catalog_errors",
    "run_record",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventInfo:
    """One entry of the event log; ``created_at`` is timezone-aware UTC."""

    id: int
    type: str
    payload: dict[str, Any]
    created_at: datetime


class Catalog:
    """Typed access to the catalog database.

    Build it with `astrid.catalog.connect`, which also migrates the schema.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Engine over a database at the latest migration.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessionmaker = sessionmaker(engine, expire_on_commit=False)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for queries this class does not offer yet)."""
        return self._engine

    def session(self) -> Session:
        """A new ORM session, for the other catalog modules (candidates, curation, access...).

        Use it as a context manager, with ``session.begin()`` around a write; wrap database
        errors with `catalog_errors`.
        """
        return self._sessionmaker()

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Catalog({self._engine.url!r})"

    # -- observations ---------------------------------------------------------------------

    def register_observation(
        self,
        *,
        content_sha256: str,
        name: str,
        path: str | PurePath,
        role: str,
        mjd: float | None,
        filter: str | None,
        exptime: float,
        gain: float,
        shape: Sequence[int],
        wcs_header: str | None,
        store_key: str | None = None,
        mjd_end: float | None = None,
        stack: Mapping[str, Any] | None = None,
    ) -> int:
        """Register an image and return its observation id; idempotent on the content hash.

        Registering a file whose ``content_sha256`` is already known returns the existing
        id and changes nothing, except that a missing ``store_key`` is filled in.

        Parameters
        ----------
        content_sha256 : str
            SHA-256 hex digest of the file.
        name : str
            Short name (file stem).
        path : str or PurePath
            Where the file was found.
        role : {"science", "reference"}
        mjd : float or None
            Mid-exposure MJD.
        filter : str or None
            Band name.
        exptime, gain : float
            Seconds and e-/ADU.
        shape : (int, int)
            Image shape ``(ny, nx)``.
        wcs_header : str or None
            The WCS as a FITS header string.
        store_key : str, optional
            Object-store key of the file.
        mjd_end : float, optional
            A stack's latest input (``MJD-END``); None for a single exposure.
        stack : mapping, optional
            A reference stack's summary (`stack_files.stack_summary`); None otherwise.

        Returns
        -------
        int
            The observation id.

        Raises
        ------
        StorageError
            For an invalid role or shape, or when the database write fails.
        """
        if role not in OBSERVATION_ROLES:
            raise StorageError(
                f"observation {name!r}: role must be one of {OBSERVATION_ROLES}, got {role!r}",
                field="role",
                value=role,
            )
        if len(shape) != 2:
            raise StorageError(
                f"observation {name!r}: shape must be (ny, nx), got {tuple(shape)!r}",
                field="shape",
                value=tuple(shape),
            )
        values = {
            "content_sha256": str(content_sha256),
            "name": str(name),
            "path": str(path),
            "store_key": store_key,
            "role": role,
            "mjd": finite_or_none(mjd, "mjd"),
            "mjd_end": finite_or_none(mjd_end, "mjd_end"),
            "stack_json": None if stack is None else dumps_json(stack, f"stack of {name!r}"),
            "filter": filter,
            "exptime": finite_or_none(exptime, "exptime"),
            "gain": finite_or_none(gain, "gain"),
            "shape_y": int(shape[0]),
            "shape_x": int(shape[1]),
            "wcs_header": wcs_header,
            "status": "registered",
            "created_at": utcnow(),
        }
        for field, given in (("exptime", exptime), ("gain", gain)):
            if values[field] is None:
                raise StorageError(
                    f"observation {name!r}: {field} must be a finite number, got {given!r}",
                    field=field,
                    value=given,
                )
        for attempt in range(2):
            try:
                with self._sessionmaker.begin() as session:
                    existing = session.scalar(
                        select(Observation).where(Observation.content_sha256 == content_sha256)
                    )
                    if existing is not None:
                        if existing.store_key is None and store_key is not None:
                            existing.store_key = store_key
                        return existing.id
                    obs = Observation(**values)
                    session.add(obs)
                    session.flush()
                    logger.info("registered observation %d (%s, %s)", obs.id, name, role)
                    return obs.id
            except IntegrityError as e:
                # Another writer registered the same content between our SELECT and INSERT;
                # the second pass finds it. Anything else (NULL in a required field) re-fails.
                if attempt == 1:
                    raise _storage_error(f"register observation {name!r}", e) from e
            except SQLAlchemyError as e:
                raise _storage_error(f"register observation {name!r}", e) from e
        raise AssertionError("unreachable")  # pragma: no cover

    def mark_observation(
        self, observation_id: int, *, status: str, error: str | None = None
    ) -> None:
        """Set an observation's status (``registered``, ``failed`` or ``processed``).

        Raises
        ------
        StorageError
            For an unknown status or observation id.
        """
        if status not in OBSERVATION_STATUSES:
            raise StorageError(
                f"observation {observation_id}: status must be one of {OBSERVATION_STATUSES}, "
                f"got {status!r}",
                observation_id=observation_id,
                value=status,
            )
        with _errors(f"mark observation {observation_id}"), self._sessionmaker.begin() as session:
            result = session.execute(
                update(Observation)
                .where(Observation.id == observation_id)
                .values(status=status, error=error)
            )
            if _rowcount(result) == 0:
                raise StorageError(
                    f"no observation with id {observation_id}", observation_id=observation_id
                )

    def observations(self, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
        """Observations as plain dicts of their columns, by id: all, or those of ``ids``."""
        query = select(*Observation.__table__.columns).order_by(Observation.id)
        if ids is not None:
            query = query.where(Observation.id.in_(sorted(set(ids))))
        with _errors("read observations"), self._sessionmaker() as session:
            return [dict(row) for row in session.execute(query).mappings()]

    # -- runs -----------------------------------------------------------------------------

    def find_run(self, *, key: str) -> RunRecord | None:
        """The run with idempotency key ``key``, or None."""
        with _errors(f"find run {key!r}"), self._sessionmaker() as session:
            run = session.scalar(select(ProcessingRun).where(ProcessingRun.key == key))
            return None if run is None else run_record(run)

    def runs(self) -> list[RunRecord]:
        """All processing runs, by id."""
        with _errors("read runs"), self._sessionmaker() as session:
            return [
                run_record(run)
                for run in session.scalars(select(ProcessingRun).order_by(ProcessingRun.id))
            ]

    def start_run(
        self,
        *,
        key: str,
        science_id: int,
        reference_id: int | None,
        config: Mapping[str, Any],
        code_version: str,
        status: str = "running",
        owner: str | None = None,
    ) -> int:
        """Record that a run starts (or is queued) and return its id.

        A run with the same key that failed or is still marked queued or running (its worker
        died) is reset to ``status`` and its id reused, so retries never duplicate runs.

        Parameters
        ----------
        status : {"running", "queued"}
            ``"queued"`` for a run admitted to a batch that a worker has not begun yet
            (`begin_run` marks it running).
        owner : str, optional
            The process that queued or runs it (``host:pid:start``), so a run left behind
            by a dead process can be recognised.

        Raises
        ------
        StorageError
            If a run with this key is already done (check `find_run` first), an observation
            id does not exist, or the write fails.
        """
        config_json = dumps_json(config, f"config of run {key!r}")
        for attempt in range(2):
            try:
                with self._sessionmaker.begin() as session:
                    run = session.scalar(select(ProcessingRun).where(ProcessingRun.key == key))
                    if run is None:
                        run = ProcessingRun(key=key, n_candidates=0)
                        session.add(run)
                    elif run.status == "done":
                        raise StorageError(
                            f"run {run.id} with key {key!r} is already done; "
                            "use find_run to skip finished work",
                            key=key,
                            run_id=run.id,
                        )
                    run.science_id = science_id
                    run.reference_id = reference_id
                    run.status = status
                    run.owner = owner
                    run.failed_stage = None
                    run.error = None
                    run.config_json = config_json
                    run.code_version = code_version
                    run.started_at = utcnow()
                    run.finished_at = None
                    session.flush()
                    logger.info("run %d started (key %s)", run.id, key)
                    return run.id
            except IntegrityError as e:
                # A concurrent start inserted the same key first: take the reuse path.
                if attempt == 1 or self.find_run(key=key) is None:
                    raise _storage_error(f"start run {key!r}", e) from e
            except SQLAlchemyError as e:
                raise _storage_error(f"start run {key!r}", e) from e
        raise AssertionError("unreachable")  # pragma: no cover

    def begin_run(self, run_id: int, *, owner: str | None = None, fence: int | None = None) -> None:
        """Mark a queued run running: a worker begins it now (``owner``, when given).

        Raises
        ------
        ClaimLostError
            If ``fence`` is given and the run has been claimed again since (`claims`).
        StorageError
            If the run does not exist or the write fails.
        """
        values: dict[str, Any] = {"status": "running", "started_at": utcnow()}
        if owner is not None:
            values["owner"] = owner
        query = update(ProcessingRun).where(ProcessingRun.id == run_id)
        if fence is not None:
            query = query.where(ProcessingRun.fence == fence)
        with _errors(f"begin run {run_id}", run_id=run_id), self._sessionmaker.begin() as session:
            result = session.execute(query.values(**values))
            if _rowcount(result) == 0:
                if fence is not None and session.get(ProcessingRun, run_id) is not None:
                    raise ClaimLostError(
                        f"run {run_id} was claimed by another process", run_id=run_id
                    )
                raise StorageError(f"no processing run with id {run_id}", run_id=run_id)

    def unfinished_runs(self) -> list[RunRecord]:
        """Runs still queued or running (in progress, or left behind by a dead process)."""
        query = (
            select(ProcessingRun)
            .where(ProcessingRun.status.in_(("queued", "running")))
            .order_by(ProcessingRun.id)
        )
        with _errors("read unfinished runs"), self._sessionmaker() as session:
            return [run_record(run) for run in session.scalars(query)]

    def finish_run(
        self,
        run_id: int,
        *,
        candidates: Sequence[Mapping[str, Any]],
        stats: Mapping[str, Any],
        timings: Mapping[str, Any],
        products: Mapping[str, Any],
        association_radius_arcsec: float | None = DEFAULT_RADIUS_ARCSEC,
        photometry: Mapping[str, Any] | None = None,
        fence: int | None = None,
    ) -> None:
        """Store a run's candidates, associate them with objects and mark it done, in one
        transaction (`astrid.catalog.objects.associate_run`, under the association lock).

        Candidates already attached to the run (an earlier attempt) are replaced, never
        duplicated. Each mapping supplies the `Candidate` columns by name (``x``, ``y``,
        ``ra``, ``dec``, ``sign``, ``scorr`` are required; ``observation_id`` defaults to the
        run's science image); ``number`` is its position in ``candidates``, ``healpix`` is
        computed from ``ra``/``dec``, and any other key goes into ``features_json``. The objects
        that replaced candidates belonged to are recomputed (deleted when left empty). With
        ``association_radius_arcsec=None`` the candidates are stored unassociated.
        ``photometry`` (keys among `PHOTOMETRY_COLUMNS`: the frame's zero point, its error,
        stars and source, and its limiting magnitude) is written on the science observation.
        With ``fence`` (a claim's token, `astrid.catalog.claims`) the write happens only if
        the run was not claimed again since.

        Raises
        ------
        ClaimLostError
            If ``fence`` is stale: another process holds the run now; nothing is written.
        StorageError
            If the run does not exist, a candidate lacks a required value or has one of the
            wrong type, or the write fails; the catalog is then left as it was.
        """
        stats_json = dumps_json(stats, f"stats of run {run_id}")
        timings_json = dumps_json(timings, f"timings of run {run_id}")
        products_json = dumps_json(products, f"products of run {run_id}")
        with _errors(f"finish run {run_id}", run_id=run_id):
            with self._sessionmaker.begin() as session:
                run = session.get(ProcessingRun, run_id)
                if run is None:
                    raise StorageError(f"no processing run with id {run_id}", run_id=run_id)
                rows = candidate_rows(run_id, run.science_id, candidates)
                lock_association(session)
                if fence is not None:
                    session.refresh(run, with_for_update=True)
                    if run.fence != fence:
                        raise ClaimLostError(
                            f"run {run_id} was claimed by another process (fence {run.fence}, "
                            f"this result's {fence}); its result is not stored",
                            run_id=run_id,
                        )
                detached = object_ids_of_run(session, run_id)
                session.execute(delete(Candidate).where(Candidate.run_id == run_id))
                if rows:
                    session.execute(insert(Candidate), rows)
                if association_radius_arcsec is None:
                    refresh_objects(session, detached)
                else:
                    associate_run(session, run_id, association_radius_arcsec, detached=detached)
                run.status = "done"
                run.objects_status = None if association_radius_arcsec is None else "pending"
                run.n_candidates = len(rows)
                run.failed_stage = None
                run.error = None
                run.stats_json = stats_json
                run.timings_json = timings_json
                run.products_json = products_json
                run.finished_at = utcnow()
                science = session.get(Observation, run.science_id)
                if photometry and science is not None:
                    for column in PHOTOMETRY_COLUMNS:
                        setattr(science, column, photometry.get(column))
            logger.info("run %d done with %d candidates", run_id, len(rows))

    def associate_run(self, run_id: int, radius_arcsec: float = DEFAULT_RADIUS_ARCSEC) -> None:
        """(Re-)associate a stored run's candidates with objects, in one transaction.

        Raises
        ------
        StorageError
            If the write fails; the catalog is then left as it was.
        """
        with _errors(f"associate run {run_id}", run_id=run_id):
            with self._sessionmaker.begin() as session:
                associate_run(session, run_id, radius_arcsec)

    def fail_run(self, run_id: int, *, stage: str, error: str, fence: int | None = None) -> None:
        """Mark a run failed at ``stage`` with the error message ``error``.

        With ``fence`` (a claim's token) only while that claim holds and the run is not
        done: a stale holder's failure never overwrites the current holder's run.

        Raises
        ------
        ClaimLostError
            If ``fence`` is stale or the run is done; nothing is written.
        StorageError
            If the run does not exist or the write fails.
        """
        query = update(ProcessingRun).where(ProcessingRun.id == run_id)
        if fence is not None:
            query = query.where(ProcessingRun.fence == fence, ProcessingRun.status != "done")
        with _errors(f"fail run {run_id}", run_id=run_id), self._sessionmaker.begin() as session:
            result = session.execute(
                query.values(status="failed", failed_stage=stage, error=error, finished_at=utcnow())
            )
            if _rowcount(result) == 0:
                if fence is not None and session.get(ProcessingRun, run_id) is not None:
                    raise ClaimLostError(
                        f"run {run_id} was claimed by another process or is done; "
                        f"not marked failed ({stage}: {error})",
                        run_id=run_id,
                    )
                raise StorageError(f"no processing run with id {run_id}", run_id=run_id)
        logger.info("run %d failed at %s: %s", run_id, stage, error)

    # -- candidates -----------------------------------------------------------------------

    def candidates(
        self,
        *,
        run_id: int | None = None,
        observation_id: int | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[dict[str, Any]]:
        """Candidates as plain dicts, by run then number, optionally filtered (``ids``: these).

        Each dict has every column except ``features_json``, whose keys are merged in, and
        ``object_name``, the name of the object the candidate belongs to (or None).
        """
        query = (
            select(*Candidate.__table__.columns, SkyObject.name.label("object_name"))
            .outerjoin(SkyObject, SkyObject.id == Candidate.object_id)
            .order_by(Candidate.run_id, Candidate.number)
        )
        if run_id is not None:
            query = query.where(Candidate.run_id == run_id)
        if observation_id is not None:
            query = query.where(Candidate.observation_id == observation_id)
        if ids is not None:
            query = query.where(Candidate.id.in_(list(ids)))
        with _errors("read candidates"), self._sessionmaker() as session:
            rows = session.execute(query).mappings().all()
        out = []
        for row in rows:
            record = dict(row)
            features = record.pop("features_json")
            if features:
                for name, value in json.loads(features).items():
                    record.setdefault(name, value)
            out.append(record)
        return out

    # -- events ---------------------------------------------------------------------------

    def record_event(self, type: str, payload: Mapping[str, Any]) -> None:
        """Append an event of ``type`` (e.g. ``"CandidatesFound"``) to the event log."""
        payload_json = dumps_json(payload, f"payload of event {type!r}")
        with _errors(f"record event {type!r}"), self._sessionmaker.begin() as session:
            session.add(Event(type=type, payload_json=payload_json, created_at=utcnow()))

    def events(self, *, type: str | None = None) -> list[EventInfo]:
        """The event log in order, optionally only events of one ``type``."""
        query = select(Event).order_by(Event.id)
        if type is not None:
            query = query.where(Event.type == type)
        with _errors("read events"), self._sessionmaker() as session:
            return [
                EventInfo(
                    id=event.id,
                    type=event.type,
                    payload=json.loads(event.payload_json),
                    created_at=event.created_at,
                )
                for event in session.scalars(query)
            ]


# -- helpers ------------------------------------------------------------------------------


@contextmanager
def catalog_errors(action: str, **details: Any) -> Iterator[None]:
    """Turn database errors into `StorageError` naming what was being done.

    Parameters
    ----------
    action : str
        What was being done, completing "catalog could not ...".
    **details
        Attributes of the raised error.
    """
    try:
        yield
    except SQLAlchemyError as e:
        raise _storage_error(action, e, **details) from e


_errors = catalog_errors


def _storage_error(action: str, error: SQLAlchemyError, **details: Any) -> StorageError:
    cause = getattr(error, "orig", None) or error
    return StorageError(f"catalog could not {action}: {cause}", **details)


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
