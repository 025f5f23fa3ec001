"""Alerts routed to subscriptions and delivered by `astrid run`: once each, signed, resumable."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from alert_field import Field
from astrid.catalog import Catalog, connect
from astrid.catalog.alerts import alerts_of_runs
from astrid.catalog.deliveries import claim_due, delivery_counts, list_deliveries
from astrid.catalog.models import utcnow
from astrid.catalog.subscriptions import add_filter, add_subscription
from astrid.delivery import verify_signature
from astrid.pipeline.delivery_stage import DeliveryStage
from astrid.pipeline.runner import Pipeline
from astrid.store import ObjectStore
from webhook_receiver import receiving

SECRET = "test-secret"


def _pipeline(catalog: Catalog, root: Path, **options: Any) -> Pipeline:
    return Pipeline(catalog, ObjectStore(str(root / "store")), workers=1, **options)


def _subscribe(catalog: Catalog, root: Path, hook: str, **webhook_options: Any) -> None:
    add_filter(catalog, name="everything", expression="rb >= 0")
    add_filter(catalog, name="nothing", expression="rb > 1.5")
    add_subscription(
        catalog, name="folder", filter_name="everything", kind="files", target=str(root / "inbox")
    )
    add_subscription(
        catalog,
        name="hook",
        filter_name="everything",
        kind="webhook",
        target=hook,
        secret=SECRET,
        options=webhook_options,
    )
    add_subscription(
        catalog, name="never", filter_name="nothing", kind="files", target=str(root / "never")
    )


def test_every_alert_reaches_each_matching_subscription_once(field: Field, tmp_path: Path) -> None:
    with (
        receiving() as hook,
        connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog,
    ):
        _subscribe(catalog, tmp_path, hook.url)
        pipeline = _pipeline(catalog, tmp_path)
        report = pipeline.run(field.reference, field.frames, tmp_path / "out")
        assert report.alerts is not None and report.deliveries is not None
        alert_ids = sorted(report.alerts.alert_ids)
        assert alert_ids and report.alerts.queued == 2 * len(alert_ids)
        assert report.deliveries.delivered == 2 * len(alert_ids)
        # the webhook: one signed request per alert, its fields and packet inside
        assert sorted(hook.alert_ids()) == alert_ids
        for headers, body, raw in hook.requests:
            signature, stamp = headers["X-AstrID-Signature"], headers["X-AstrID-Timestamp"]
            assert verify_signature(SECRET, signature, stamp, raw)
            assert not verify_signature("other", signature, stamp, raw)
            assert body["fields"]["alert_id"] == body["alert_id"]
            assert body["sidecar"]["alertId"] == body["alert_id"]
        # the folder: the same packets as OUT/alerts
        inbox = tmp_path / "inbox"
        assert sorted(int(p.stem) for p in inbox.glob("*.avro")) == alert_ids
        for alert_id in alert_ids:
            written = (tmp_path / "out" / "alerts" / f"{alert_id}.avro").read_bytes()
            assert (inbox / f"{alert_id}.avro").read_bytes() == written
        assert not (tmp_path / "never").exists()
        # a repeated run routes and sends nothing again
        again = pipeline.run(field.reference, field.frames, tmp_path / "out")
        assert again.alerts is not None and again.alerts.queued == 0
        assert sorted(hook.alert_ids()) == alert_ids
        counts = delivery_counts(catalog)
        assert sorted(c.get("delivered", 0) for c in counts.values()) == [len(alert_ids)] * 2
        stored = alerts_of_runs(catalog, {r.run_id for r in report.frames if r.run_id})
        assert all(a.fields["alert_id"] == a.id for a in stored if a.id in alert_ids)


def test_a_hanging_webhook_does_not_hold_the_run_and_is_retried(
    field: Field, tmp_path: Path
) -> None:
    with (
        receiving(hang_s=3.0) as hook,
        connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog,
    ):
        _subscribe(catalog, tmp_path, hook.url, timeout=0.5)
        start = time.perf_counter()
        report = _pipeline(catalog, tmp_path).run(field.reference, field.frames, tmp_path / "out")
        assert report.deliveries is not None and report.alerts is not None
        n = len(report.alerts.alert_ids)
        # one timeout for the batch, not one per alert; the folder got everything
        assert len(hook.requests) <= 1 or len(hook.requests) < n
        assert report.deliveries.delivered == n
        assert "hook" in report.deliveries.errors
        pending = list_deliveries(catalog, status="pending")
        assert len(pending) == n
        assert {p.attempts for p in pending} <= {0, 1} and max(p.attempts for p in pending) == 1
        assert all(p.next_attempt_at > utcnow() for p in pending)
        assert time.perf_counter() - start < 60  # a safety bound, not a benchmark


def test_a_crashed_sender_is_resumed_without_resending_what_was_acknowledged(
    field: Field, tmp_path: Path
) -> None:
    with (
        receiving() as hook,
        connect(f"sqlite:///{tmp_path / 'astrid.sqlite'}") as catalog,
    ):
        _subscribe(catalog, tmp_path, hook.url)
        store = ObjectStore(str(tmp_path / "store"))
        # publish without sending, then a sender claims and "crashes" before sending
        report = _pipeline(catalog, tmp_path, delivery_budget_s=0).run(
            field.reference, field.frames, tmp_path / "out"
        )
        assert report.deliveries is None and report.alerts is not None
        n = len(report.alerts.alert_ids)
        _, held = claim_due(catalog, lease_s=60)
        assert len(held) == 2 * n
        stage = DeliveryStage(catalog, store)
        assert stage.deliver().delivered == 0  # still held by the crashed sender
        later = utcnow() + timedelta(seconds=120)
        assert len(claim_due(catalog, now=later)[1]) == 2 * n  # the lease ran out
        # a real sender after the lease (the claim above is itself stale by then)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("astrid.catalog.deliveries.utcnow", lambda: later + timedelta(300))
            sent = stage.deliver()
        assert sent.delivered == 2 * n and len(hook.requests) == n
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("astrid.catalog.deliveries.utcnow", lambda: later + timedelta(900))
            assert stage.deliver().delivered == 0  # nothing is sent twice
        assert len(hook.requests) == n
        assert json.loads(hook.requests[0][2])["alert_id"] in report.alerts.alert_ids
