"""The delivery stage: send the queued alerts to their subscriptions' destinations.

Each pass claims the deliveries that are due (`astrid.catalog.deliveries.claim_due`: a
token and a lease, so several senders share the queue without sending one row twice),
groups them by subscription, builds the destination (`astrid.delivery.destination_from_spec`),
reads each packet and sidecar from the object store, sends, and settles the results under
its token (a sender whose lease ran out cannot overwrite another's). A destination's
failure becomes a retry later (exponential backoff) or, after the subscription's
``max_attempts``, a dead-letter record; it never raises out of the stage, and a
destination that hangs costs one timeout per batch (the destinations skip the rest of a
batch after a failure). Passes go on until nothing is due or ``budget_s`` is spent.

At least once to the destination: a crash after sending and before settling leaves the
claim to expire and the alert to be sent again; once in the catalog: the record of an
(alert, subscription) is one row, settled once.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from astrid.catalog import Catalog
from astrid.catalog.deliveries import DeliveryResult, DueDelivery, claim_due, settle
from astrid.catalog.subscriptions import SubscriptionRecord, list_subscriptions
from astrid.delivery import Destination, OutgoingAlert, destination_from_spec
from astrid.errors import AstridError
from astrid.store import ObjectStore

__all__ = ["DeliveryReport", "DeliveryStage"]

log = logging.getLogger(__name__)

DestinationFactory = Callable[[str, str, Mapping[str, Any], str | None], Destination]


@dataclass
class DeliveryReport:
    """What the passes of one call did."""

    delivered: int = 0
    failed: int = 0  # failed attempts (retried later or dead)
    dead: int = 0  # of those, given up (dead-letter records)
    refused: int = 0  # results not written: the claim had been lost
    errors: dict[str, str] = field(default_factory=dict)  # subscription → last error
    seconds: float = 0.0


class DeliveryStage:
    """Send due deliveries.

    Parameters
    ----------
    catalog, store : Catalog, ObjectStore
        Where the delivery records and the packets are.
    lease_s : float
        How long a claim holds before another sender may take the rows.
    batch : int
        Deliveries claimed per pass.
    factory : callable, optional
        Builds a destination from a subscription's kind, target, options and secret
        (default `astrid.delivery.destination_from_spec`).
    """

    def __init__(
        self,
        catalog: Catalog,
        store: ObjectStore,
        *,
        lease_s: float = 120.0,
        batch: int = 200,
        factory: DestinationFactory | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.lease_s = lease_s
        self.batch = batch
        self.factory: DestinationFactory = factory or destination_from_spec

    def deliver(self, *, budget_s: float = 30.0) -> DeliveryReport:
        """Send what is due, pass after pass, for at most about ``budget_s`` seconds."""
        start = time.perf_counter()
        report = DeliveryReport()
        try:
            while time.perf_counter() - start < budget_s:
                token, due = claim_due(self.catalog, lease_s=self.lease_s, limit=self.batch)
                if not due:
                    break
                subscriptions = {s.id: s for s in list_subscriptions(self.catalog)}
                results: list[DeliveryResult] = []
                groups: dict[int, list[DueDelivery]] = defaultdict(list)
                for item in due:
                    groups[item.subscription_id].append(item)
                for subscription_id, items in groups.items():
                    results.extend(self._send(subscriptions.get(subscription_id), items, report))
                settled = settle(self.catalog, token, results)
                report.refused += settled.refused
                report.dead += settled.dead
        except AstridError as e:
            log.error("delivery stopped: %s", e)
            report.errors["catalog"] = str(e)
        report.seconds = time.perf_counter() - start
        return report

    def _send(
        self,
        subscription: SubscriptionRecord | None,
        items: Sequence[DueDelivery],
        report: DeliveryReport,
    ) -> list[DeliveryResult]:
        def failed(error: str, *, retry: bool) -> list[DeliveryResult]:
            report.failed += len(items)
            return [DeliveryResult(i.id, False, error, retry=retry) for i in items]

        if subscription is None:
            return failed("the subscription was deleted", retry=False)
        if not subscription.active:
            # paused: put back untouched, neither attempted nor given up
            return [
                DeliveryResult(i.id, False, "subscription paused", attempted=False) for i in items
            ]
        try:
            destination = self.factory(
                subscription.kind, subscription.target, subscription.options, subscription.secret
            )
        except AstridError as e:
            report.errors[subscription.name] = str(e)
            return failed(f"subscription {subscription.name}: {e}", retry=False)
        results: dict[int, DeliveryResult] = {}
        outgoing: list[tuple[DueDelivery, OutgoingAlert]] = []
        for item in items:
            try:
                outgoing.append((item, self._outgoing(item)))
            except AstridError as e:
                report.failed += 1
                results[item.id] = DeliveryResult(item.id, False, str(e), retry=True)
        if outgoing:
            outcomes = destination.send([alert for _, alert in outgoing])
            for (item, _), outcome in zip(outgoing, outcomes, strict=True):
                if outcome.delivered:
                    report.delivered += 1
                else:
                    report.failed += int(outcome.attempted)
                    report.errors[subscription.name] = outcome.error or "failed"
                results[item.id] = DeliveryResult(
                    item.id,
                    outcome.delivered,
                    outcome.error,
                    retry=outcome.retry,
                    attempted=outcome.attempted,
                )
        return [results[i.id] for i in items]

    def _outgoing(self, item: DueDelivery) -> OutgoingAlert:
        if item.avro_key is None or item.sidecar_key is None:
            raise AstridError(f"alert {item.alert_id} has no stored packet", alert_id=item.alert_id)
        return OutgoingAlert(
            alert_id=item.alert_id,
            avro=self.store.get_bytes(item.avro_key),
            sidecar=self.store.get_bytes(item.sidecar_key),
            fields=item.fields,
            summary=item.fields.get("summary"),
        )
