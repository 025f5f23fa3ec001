"""Alerts in the catalog: one alert id per detection, and whether its packet was sent.

A detection is a candidate of a run with an object, named by ``(run_id, candidate_number)``
(a retried run keeps the numbers when it replaces its candidate rows). `create_alerts`
gives detections their alert ids with an insert that skips pairs already present (the
unique constraint decides, so two processes cannot both create one); `alerts_to_send`
lists the alerts of runs whose packets are not written yet, `mark_alerts_sent` records
them written (with their packets' store keys and filter fields, `SentAlert`),
`mark_alert_failed` records why one could not be built (it is tried again next time), and
`recent_alerts` reads the built alerts of a time window (to try a filter on). Only runs
whose objects stage is done have detections to alert: their light curves and context
exist by then.

All functions take the `Catalog` first; times are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from astrid.catalog.json_columns import dumps_json, loads_json
from astrid.catalog.models import Alert, Candidate, ProcessingRun, utcnow
from astrid.catalog.records import record_from_row
from astrid.catalog.repository import Catalog, catalog_errors

__all__ = [
    "AlertRecord",
    "SentAlert",
    "alert_by_id",
    "alerts_of_runs",
    "alerts_to_send",
    "create_alerts",
    "detections_without_alert",
    "latest_alert_of_object",
    "mark_alert_failed",
    "mark_alerts_sent",
    "recent_alerts",
]

_CHUNK = 500


@dataclass(frozen=True)
class AlertRecord:
    """One alert id: its detection (run, candidate), object, and whether it was sent."""

    id: int
    run_id: int
    candidate_number: int
    candidate_id: int | None
    object_id: int | None
    created_at: datetime
    sent_at: datetime | None
    schema_version: str | None
    error: str | None
    avro_key: str | None
    sidecar_key: str | None
    fields: dict[str, Any]


@dataclass(frozen=True)
class SentAlert:
    """An alert whose packet was written: its store keys and filter fields."""

    alert_id: int
    avro_key: str
    sidecar_key: str
    fields: dict[str, Any]


def _record(row: Alert) -> AlertRecord:
    return record_from_row(AlertRecord, row, fields=loads_json(row.fields_json) or {})


def _chunks(ids: Iterable[int]) -> list[list[int]]:
    values = sorted(set(ids))
    return [values[k : k + _CHUNK] for k in range(0, len(values), _CHUNK)]


#: An alert's detection is the candidate of its run with its number.
_same_detection = and_(Alert.run_id == Candidate.run_id, Alert.candidate_number == Candidate.number)


def detections_without_alert(catalog: Catalog, run_ids: Iterable[int]) -> list[int]:
    """Ids of the candidates with an object, of these runs whose objects stage is done,
    that have no alert yet, ordered by id."""
    found: list[int] = []
    with catalog_errors("detections without alert"), catalog.session() as session:
        for chunk in _chunks(run_ids):
            query = (
                select(Candidate.id)
                .join(ProcessingRun, ProcessingRun.id == Candidate.run_id)
                .outerjoin(
                    Alert,
                    and_(
                        Alert.run_id == Candidate.run_id, Alert.candidate_number == Candidate.number
                    ),
                )
                .where(
                    Candidate.run_id.in_(chunk),
                    Candidate.object_id.is_not(None),
                    ProcessingRun.objects_status == "done",
                    Alert.id.is_(None),
                )
            )
            found.extend(session.scalars(query))
    return sorted(found)


def create_alerts(catalog: Catalog, candidate_ids: Sequence[int]) -> int:
    """Give these candidates (detections) their alert ids, skipping those that have one.

    Returns
    -------
    int
        How many alert ids were created.
    """
    if not candidate_ids:
        return 0
    created = 0
    now = utcnow()
    with catalog_errors("create alerts"), catalog.session() as session, session.begin():
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        for chunk in _chunks(candidate_ids):
            rows = [
                {
                    "run_id": run_id,
                    "candidate_number": number,
                    "candidate_id": cand_id,
                    "object_id": object_id,
                    "created_at": now,
                }
                for cand_id, run_id, number, object_id in session.execute(
                    select(
                        Candidate.id, Candidate.run_id, Candidate.number, Candidate.object_id
                    ).where(Candidate.id.in_(chunk), Candidate.object_id.is_not(None))
                )
            ]
            if rows:
                statement = (
                    insert(Alert)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=["run_id", "candidate_number"])
                    .returning(Alert.id)  # rowcount is -1 for this on PostgreSQL (psycopg)
                )
                created += len(session.execute(statement).all())
    return created


def _alerts(catalog: Catalog, run_ids: Iterable[int], *, unsent: bool) -> list[AlertRecord]:
    out: list[AlertRecord] = []
    with catalog_errors("read alerts"), catalog.session() as session:
        for chunk in _chunks(run_ids):
            query = select(Alert).where(Alert.run_id.in_(chunk)).order_by(Alert.id)
            if unsent:
                query = query.where(Alert.sent_at.is_(None))
            out.extend(_record(row) for row in session.scalars(query))
    return sorted(out, key=lambda a: a.id)


def alerts_of_runs(catalog: Catalog, run_ids: Iterable[int]) -> list[AlertRecord]:
    """Every alert of these runs, sent or not, by id."""
    return _alerts(catalog, run_ids, unsent=False)


def alerts_to_send(catalog: Catalog, run_ids: Iterable[int]) -> list[AlertRecord]:
    """The alerts of these runs whose packets have not been written yet, by id."""
    return _alerts(catalog, run_ids, unsent=True)


def mark_alerts_sent(
    catalog: Catalog, sent: Sequence[SentAlert], *, schema_version: str
) -> list[int]:
    """Record these alerts' packets as written, following ``schema_version``.

    Returns
    -------
    list of int
        The ids of the alerts this call marked (an alert already marked sent is unchanged
        and not listed: a packet is recorded once).
    """
    marked: list[int] = []
    if not sent:
        return marked
    now = utcnow()
    by_id = {alert.alert_id: alert for alert in sent}
    with catalog_errors("mark alerts sent"), catalog.session() as session, session.begin():
        for chunk in _chunks(by_id):
            # the unsent ones, locked (PostgreSQL) so that a concurrent sender waits and
            # then finds them sent; then one executemany by primary key
            unsent = session.scalars(
                select(Alert.id)
                .where(Alert.id.in_(chunk), Alert.sent_at.is_(None))
                .order_by(Alert.id)
                .with_for_update()
            ).all()
            rows = [
                {
                    "id": alert_id,
                    "sent_at": now,
                    "schema_version": schema_version,
                    "error": None,
                    "avro_key": by_id[alert_id].avro_key,
                    "sidecar_key": by_id[alert_id].sidecar_key,
                    "fields_json": dumps_json(
                        by_id[alert_id].fields, where=f"alert {alert_id} fields"
                    ),
                }
                for alert_id in unsent
            ]
            if rows:
                session.execute(update(Alert), rows)
                marked.extend(unsent)
    return marked


def alert_by_id(catalog: Catalog, alert_id: int) -> AlertRecord | None:
    """One alert, or None."""
    with catalog_errors(f"read alert {alert_id}"), catalog.session() as session:
        row = session.get(Alert, alert_id)
        return None if row is None else _record(row)


def latest_alert_of_object(catalog: Catalog, object_id: int) -> AlertRecord | None:
    """The object's newest built alert (its packet written), or None."""
    with catalog_errors(f"read the alerts of object {object_id}"), catalog.session() as session:
        row = session.scalar(
            select(Alert)
            .where(Alert.object_id == object_id, Alert.sent_at.is_not(None))
            .order_by(Alert.id.desc())
            .limit(1)
        )
        return None if row is None else _record(row)


def recent_alerts(catalog: Catalog, *, since: datetime, limit: int = 100_000) -> list[AlertRecord]:
    """The alerts whose packets were written at or after ``since``, oldest first."""
    with catalog_errors("read recent alerts"), catalog.session() as session:
        query = (
            select(Alert)
            .where(Alert.sent_at.is_not(None), Alert.sent_at >= since)
            .order_by(Alert.id)
            .limit(limit)
        )
        return [_record(row) for row in session.scalars(query)]


def mark_alert_failed(catalog: Catalog, alert_id: int, *, error: str) -> None:
    """Record why an alert's packet could not be built (it stays unsent)."""
    with catalog_errors(f"mark alert {alert_id} failed"), catalog.session() as session:
        with session.begin():
            session.execute(update(Alert).where(Alert.id == alert_id).values(error=error))
