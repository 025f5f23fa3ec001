"""Delivery records: one per (alert, subscription), claimed by a sender, then settled.

`queue_deliveries` records that alerts matched subscriptions (an insert that skips pairs
already recorded: the unique pair makes the record exactly-once however often an alert is
routed). A sender `claim_due` s the pending deliveries whose next attempt is due and that
no live claim holds: it writes its own token and a lease on them in one UPDATE, then reads
back what it got, so two senders never hold the same row. `settle` writes the results,
only for rows that still carry the sender's token (a sender whose lease ran out and whose
rows were claimed again is refused: the fencing token). A failed attempt is retried after
`backoff_seconds`; after the subscription's ``max_attempts`` attempts, or a failure that
retrying cannot help, the delivery is ``dead`` (the dead-letter record, with its error).

All functions take the `Catalog` first; times are timezone-aware UTC.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from astrid.catalog.delivery_models import AlertDelivery, AlertSubscription
from astrid.catalog.json_columns import loads_json
from astrid.catalog.models import Alert, utcnow
from astrid.catalog.repository import Catalog, catalog_errors

__all__ = [
    "DeliveryRecord",
    "DeliveryResult",
    "DueDelivery",
    "Settled",
    "backoff_seconds",
    "claim_due",
    "delivery_counts",
    "list_deliveries",
    "queue_deliveries",
    "settle",
]

_CHUNK = 500


def backoff_seconds(attempts: int, *, base_s: float = 30.0, cap_s: float = 6 * 3600.0) -> float:
    """Wait before the next try after ``attempts`` failed ones: ``base_s·2^(attempts-1)``,
    at most ``cap_s``.

    Examples
    --------
    >>> [backoff_seconds(n) for n in (1, 2, 3)]
    [30.0, 60.0, 120.0]
    >>> backoff_seconds(20)
    21600.0
    """
    return float(min(cap_s, base_s * 2.0 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class DueDelivery:
    """A claimed delivery, with what the sender needs of its alert."""

    id: int
    alert_id: int
    subscription_id: int
    attempts: int
    avro_key: str | None
    sidecar_key: str | None
    fields: dict[str, Any]


@dataclass(frozen=True)
class DeliveryResult:
    """What the sender did with one claimed delivery."""

    delivery_id: int
    delivered: bool
    error: str | None = None
    retry: bool = True
    attempted: bool = True


@dataclass(frozen=True)
class Settled:
    """What `settle` wrote: results refused (the claim was lost), deliveries given up."""

    refused: int = 0
    dead: int = 0


@dataclass(frozen=True)
class DeliveryRecord:
    """One delivery record, as the API and the CLI list them."""

    id: int
    alert_id: int
    subscription_id: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def queue_deliveries(catalog: Catalog, pairs: Iterable[tuple[int, int]]) -> int:
    """Record that these (alert id, subscription id) pairs matched; returns how many are new."""
    rows = [
        {"alert_id": a, "subscription_id": s, "status": "pending", "attempts": 0}
        for a, s in sorted(set(pairs))
    ]
    if not rows:
        return 0
    created = 0
    now = utcnow()
    with catalog_errors("queue deliveries"), catalog.session() as session, session.begin():
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        for k in range(0, len(rows), _CHUNK):
            chunk = [{**r, "created_at": now, "next_attempt_at": now} for r in rows[k : k + _CHUNK]]
            statement = (
                insert(AlertDelivery)
                .values(chunk)
                .on_conflict_do_nothing(index_elements=["alert_id", "subscription_id"])
                .returning(AlertDelivery.id)  # rowcount is -1 for this on PostgreSQL
            )
            created += len(session.execute(statement).all())
    return created


def claim_due(
    catalog: Catalog,
    *,
    lease_s: float = 120.0,
    limit: int = 500,
    subscription_ids: Sequence[int] | None = None,
    now: datetime | None = None,
) -> tuple[str, list[DueDelivery]]:
    """Claim up to ``limit`` pending deliveries that are due; returns the token and them."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    due = and_(
        AlertDelivery.status == "pending",
        # an alert queued before its packet was stored waits for it
        AlertDelivery.alert_id.in_(select(Alert.id).where(Alert.avro_key.is_not(None))),
        AlertDelivery.next_attempt_at <= now,
        or_(AlertDelivery.claimed_until.is_(None), AlertDelivery.claimed_until < now),
    )
    if subscription_ids is not None:
        due = and_(due, AlertDelivery.subscription_id.in_(list(subscription_ids)))
    with catalog_errors("claim deliveries"), catalog.session() as session:
        with session.begin():
            ids = list(
                session.scalars(
                    select(AlertDelivery.id)
                    .where(due)
                    .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
                    .limit(limit)
                )
            )
            if not ids:
                return token, []
            # the condition is tested again by the UPDATE: a row another sender claimed
            # in between is not taken
            session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id.in_(ids), due)
                .values(claim_token=token, claimed_until=now + timedelta(seconds=lease_s))
            )
        rows = session.execute(
            select(AlertDelivery, Alert)
            .join(Alert, Alert.id == AlertDelivery.alert_id)
            .where(AlertDelivery.claim_token == token)
            .order_by(AlertDelivery.id)
        )
        return token, [
            DueDelivery(
                id=d.id,
                alert_id=d.alert_id,
                subscription_id=d.subscription_id,
                attempts=d.attempts,
                avro_key=a.avro_key,
                sidecar_key=a.sidecar_key,
                fields=loads_json(a.fields_json),
            )
            for d, a in rows
        ]


def settle(
    catalog: Catalog,
    token: str,
    results: Sequence[DeliveryResult],
    *,
    base_s: float = 30.0,
    now: datetime | None = None,
) -> Settled:
    """Write a sender's results; says how many were refused (its claim was lost) and how
    many deliveries were given up (now ``dead``)."""
    now = now or utcnow()
    refused = dead = 0
    with catalog_errors("record deliveries"), catalog.session() as session:
        with session.begin():
            for result in results:
                row = session.get(AlertDelivery, result.delivery_id)
                if row is None or row.claim_token != token:
                    refused += 1
                    continue
                row.claim_token, row.claimed_until = None, None
                if result.delivered:
                    row.status, row.delivered_at, row.last_error = "delivered", now, None
                    row.attempts += 1
                    continue
                row.last_error = result.error
                if result.attempted:
                    row.attempts += 1
                subscription = session.get(AlertSubscription, row.subscription_id)
                limit = subscription.max_attempts if subscription is not None else 1
                if not result.retry or row.attempts >= limit:
                    row.status = "dead"
                    dead += 1
                else:
                    wait = backoff_seconds(max(1, row.attempts), base_s=base_s)
                    row.next_attempt_at = now + timedelta(seconds=wait)
    return Settled(refused=refused, dead=dead)


def delivery_counts(catalog: Catalog) -> dict[int, dict[str, int]]:
    """Deliveries per subscription id and status."""
    counts: dict[int, dict[str, int]] = {}
    with catalog_errors("count deliveries"), catalog.session() as session:
        query = select(AlertDelivery.subscription_id, AlertDelivery.status, func.count()).group_by(
            AlertDelivery.subscription_id, AlertDelivery.status
        )
        for subscription_id, status, n in session.execute(query):
            counts.setdefault(subscription_id, {})[status] = int(n)
    return counts


def list_deliveries(
    catalog: Catalog,
    *,
    subscription_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[DeliveryRecord]:
    """Delivery records, newest first (e.g. ``status="dead"``: the dead letters)."""
    with catalog_errors("list deliveries"), catalog.session() as session:
        query = select(AlertDelivery).order_by(AlertDelivery.id.desc()).limit(limit)
        if subscription_id is not None:
            query = query.where(AlertDelivery.subscription_id == subscription_id)
        if status is not None:
            query = query.where(AlertDelivery.status == status)
        return [
            DeliveryRecord(
                id=r.id,
                alert_id=r.alert_id,
                subscription_id=r.subscription_id,
                status=r.status,
                attempts=r.attempts,
                next_attempt_at=r.next_attempt_at,
                last_error=r.last_error,
                created_at=r.created_at,
                delivered_at=r.delivered_at,
            )
            for r in session.scalars(query)
        ]
