"""Delivery records: exactly once per (alert, subscription), claims, fencing, retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, update

from alert_catalog import done_run, sent
from astrid.catalog import Catalog, connect, set_objects_stage
from astrid.catalog.alerts import alerts_of_runs, create_alerts, mark_alerts_sent, recent_alerts
from astrid.catalog.database import alembic_config
from astrid.catalog.deliveries import (
    DeliveryResult,
    backoff_seconds,
    claim_due,
    delivery_counts,
    list_deliveries,
    queue_deliveries,
    settle,
)
from astrid.catalog.models import Alert, utcnow
from astrid.catalog.subscriptions import (
    add_filter,
    add_subscription,
    delete_filter,
    delete_subscription,
    list_subscriptions,
)
from astrid.errors import ConflictError


@pytest.fixture
def catalog() -> Iterator[Catalog]:
    with connect("sqlite://") as catalog:
        yield catalog


def _alerts(catalog: Catalog, n: int = 3, *, built: bool = True) -> list[int]:
    run_id = done_run(catalog, 1, n)
    set_objects_stage(catalog, run_id, "done")
    create_alerts(catalog, [c["id"] for c in catalog.candidates(run_id=run_id)])
    ids = [a.id for a in alerts_of_runs(catalog, [run_id])]
    if built:
        mark_alerts_sent(catalog, [sent(i, rb=0.9) for i in ids], schema_version="11.1")
    return ids


def _subscription(catalog: Catalog, name: str = "hooks", max_attempts: int = 3) -> int:
    add_filter(catalog, name=f"f-{name}", expression="rb > 0.5")
    record = add_subscription(
        catalog,
        name=name,
        filter_name=f"f-{name}",
        kind="webhook",
        target="https://example.org/hook",
        secret="s3cret",
        max_attempts=max_attempts,
    )
    return record.id


def test_a_pair_is_recorded_once(catalog: Catalog) -> None:
    alerts, sub = _alerts(catalog), _subscription(catalog)
    assert queue_deliveries(catalog, [(a, sub) for a in alerts]) == 3
    assert queue_deliveries(catalog, [(a, sub) for a in alerts] * 2) == 0
    assert delivery_counts(catalog) == {sub: {"pending": 3}}


def test_two_senders_never_hold_the_same_row(catalog: Catalog) -> None:
    alerts, sub = _alerts(catalog), _subscription(catalog)
    queue_deliveries(catalog, [(a, sub) for a in alerts])
    first_token, first = claim_due(catalog, limit=2)
    second_token, second = claim_due(catalog)
    assert len(first) == 2 and len(second) == 1 and first_token != second_token
    assert {d.id for d in first}.isdisjoint(d.id for d in second)
    assert claim_due(catalog)[1] == []  # everything is held
    assert first[0].avro_key == f"sha256/{first[0].alert_id}.avro"
    assert first[0].fields == {"rb": 0.9}


def test_an_unbuilt_alert_waits(catalog: Catalog) -> None:
    alerts, sub = _alerts(catalog, built=False), _subscription(catalog)
    queue_deliveries(catalog, [(a, sub) for a in alerts])
    assert claim_due(catalog)[1] == []


def test_a_lost_claim_is_fenced(catalog: Catalog) -> None:
    alerts, sub = _alerts(catalog, 1), _subscription(catalog)
    queue_deliveries(catalog, [(alerts[0], sub)])
    stale_token, held = claim_due(catalog, lease_s=10)
    later = utcnow() + timedelta(seconds=30)  # the lease ran out: another sender takes it
    token, again = claim_due(catalog, now=later)
    assert [d.id for d in again] == [d.id for d in held]
    assert settle(catalog, stale_token, [DeliveryResult(held[0].id, True)]).refused == 1
    assert settle(catalog, token, [DeliveryResult(again[0].id, True)]).refused == 0
    (record,) = list_deliveries(catalog)
    assert record.status == "delivered" and record.attempts == 1


def test_failures_back_off_then_go_to_the_dead_letters(catalog: Catalog) -> None:
    alerts, sub = _alerts(catalog, 1), _subscription(catalog, max_attempts=3)
    queue_deliveries(catalog, [(alerts[0], sub)])
    now = utcnow()
    for attempt in (1, 2):
        token, due = claim_due(catalog, now=now)
        assert len(due) == 1, attempt
        settle(catalog, token, [DeliveryResult(due[0].id, False, "HTTP 500")], now=now)
        (record,) = list_deliveries(catalog)
        assert record.status == "pending" and record.attempts == attempt
        wait = record.next_attempt_at - now
        assert wait == timedelta(seconds=backoff_seconds(attempt))
        assert claim_due(catalog, now=now + wait - timedelta(seconds=1))[1] == []
        now = now + wait
    token, due = claim_due(catalog, now=now)
    settle(catalog, token, [DeliveryResult(due[0].id, False, "HTTP 500")], now=now)
    (record,) = list_deliveries(catalog, status="dead")
    assert record.attempts == 3 and record.last_error == "HTTP 500"
    assert claim_due(catalog, now=now + timedelta(days=1))[1] == []


def test_a_permanent_failure_is_dead_at_once_and_skips_do_not_count(catalog: Catalog) -> None:
    alerts, sub = _alerts(catalog, 2), _subscription(catalog)
    queue_deliveries(catalog, [(a, sub) for a in alerts])
    token, due = claim_due(catalog)
    settle(
        catalog,
        token,
        [
            DeliveryResult(due[0].id, False, "HTTP 404", retry=False),
            DeliveryResult(due[1].id, False, "not attempted", attempted=False),
        ],
    )
    dead, pending = (
        list_deliveries(catalog, status="dead"),
        list_deliveries(catalog, status="pending"),
    )
    assert [d.id for d in dead] == [due[0].id] and dead[0].attempts == 1
    assert [d.id for d in pending] == [due[1].id] and pending[0].attempts == 0


def test_filters_in_use_cannot_be_deleted_and_names_are_unique(catalog: Catalog) -> None:
    alerts, sub = _alerts(catalog, 1), _subscription(catalog)
    queue_deliveries(catalog, [(alerts[0], sub)])
    with pytest.raises(ConflictError, match="hooks"):
        delete_filter(catalog, "f-hooks")
    with pytest.raises(ConflictError, match="exists already"):
        add_filter(catalog, name="f-hooks", expression="rb > 0")
    with pytest.raises(ConflictError, match="no filter named"):
        add_subscription(catalog, name="x", filter_name="nope", kind="files", target="/tmp")
    assert delete_subscription(catalog, "hooks")
    assert list_deliveries(catalog) == [] and list_subscriptions(catalog) == []
    assert delete_filter(catalog, "f-hooks") and not delete_filter(catalog, "f-hooks")


def test_records_keep_the_secret_for_the_sender(catalog: Catalog) -> None:
    _subscription(catalog)
    (record,) = list_subscriptions(catalog)
    assert record.secret == "s3cret" and record.expression == "rb > 0.5"
    with catalog.session() as session, session.begin():
        session.execute(update(Alert).values(sent_at=None))
    assert list_subscriptions(catalog, active_only=True) == [record]


@pytest.mark.sqlite
def test_migration_0009_down_and_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'astrid.sqlite'}"
    with connect(url) as catalog:
        alerts, sub = _alerts(catalog, 2), _subscription(catalog)
        queue_deliveries(catalog, [(a, sub) for a in alerts])
        config = alembic_config(url)
        command.downgrade(config, "0008")
        tables = inspect(catalog.engine)
        assert "alert_deliveries" not in tables.get_table_names()
        assert "avro_key" not in {c["name"] for c in tables.get_columns("alerts")}
        with catalog.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM alerts").scalar() == 2
        command.upgrade(config, "head")
        assert [a.avro_key for a in recent_alerts(catalog, since=utcnow() - timedelta(1))] == [
            None,
            None,
        ]
        assert queue_deliveries(catalog, [(alerts[0], _subscription(catalog, "again"))]) == 1
