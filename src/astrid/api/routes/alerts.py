"""Alerts: the published packets, named filters, subscriptions and their deliveries.

Filters are checked when saved or tried: an expression that does not compile is a 422 in
FastAPI's validation-error shape whose ``ctx.position`` is the character offset of the
error. Reading needs the viewer role; creating and deleting filters and subscriptions the
curator role.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.responses import Response as RawResponse

from astrid.alerts.filter_language import FilterSyntaxError
from astrid.api.alert_schemas import (
    AlertPublic,
    DeliveryPublic,
    FilterCreate,
    FilterPublic,
    FilterTrialPublic,
    FilterTry,
    SubscriptionCreate,
    SubscriptionPublic,
)
from astrid.api.deps import CuratorDep, ViewerDep
from astrid.catalog.alerts import AlertRecord, alert_by_id, recent_alerts
from astrid.catalog.deliveries import delivery_counts, list_deliveries
from astrid.catalog.models import utcnow
from astrid.catalog.subscriptions import (
    SubscriptionRecord,
    delete_filter,
    delete_subscription,
    list_filters,
    list_subscriptions,
)
from astrid.errors import ConfigurationError, ConflictError
from astrid.service.deps import ServiceDep
from astrid.service.subscriptions import save_filter, save_subscription, try_filter

router = APIRouter(tags=["alerts"])

Name = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


def filter_error(error: FilterSyntaxError, where: str = "expression") -> HTTPException:
    """A 422 naming the body field and the character position of the error."""
    return HTTPException(
        status_code=422,
        detail=[
            {
                "loc": ["body", where],
                "msg": str(error),
                "type": "filter_syntax",
                "ctx": {"position": error.position},
            }
        ],
    )


def _subscription_public(
    record: SubscriptionRecord, counts: dict[int, dict[str, int]]
) -> SubscriptionPublic:
    return SubscriptionPublic(
        id=record.id,
        name=record.name,
        filter_name=record.filter_name,
        expression=record.expression,
        kind=record.kind,
        target=record.target,
        options=record.options,
        has_secret=bool(record.secret),
        active=record.active,
        max_attempts=record.max_attempts,
        owner=record.owner,
        created_at=record.created_at,
        deliveries=counts.get(record.id, {}),
    )


def _alert_public(record: AlertRecord) -> AlertPublic:
    return AlertPublic.model_validate(record)


@router.get("/alerts", response_model=list[AlertPublic])
def get_alerts(
    service: ServiceDep,
    _: ViewerDep,
    days: Annotated[float, Query(gt=0, le=366, allow_inf_nan=False)] = 7.0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AlertPublic]:
    """The alerts built in the last ``days``, newest first, with their filter fields."""
    alerts = recent_alerts(service.catalog, since=utcnow() - timedelta(days=days))
    return [_alert_public(a) for a in reversed(alerts[-limit:])]


@router.get("/alerts/{alert_id}/packet", response_class=RawResponse)
def get_packet(
    alert_id: Annotated[int, Path(ge=1, le=2**62)], service: ServiceDep, _: ViewerDep
) -> Response:
    """The alert's packet: an Avro container file (the Rubin schema embedded)."""
    alert = alert_by_id(service.catalog, alert_id)
    if alert is None or alert.avro_key is None:
        raise HTTPException(status_code=404, detail=f"no packet for alert {alert_id}")
    return Response(
        service.store.get_bytes(alert.avro_key),
        media_type="application/avro",
        headers={"Content-Disposition": f'attachment; filename="{alert_id}.avro"'},
    )


@router.get("/alert-filters", response_model=list[FilterPublic])
def get_filters(service: ServiceDep, _: ViewerDep) -> list[FilterPublic]:
    """Every saved filter, by name."""
    return [FilterPublic.model_validate(f) for f in list_filters(service.catalog)]


@router.post("/alert-filters", status_code=201, response_model=FilterPublic)
def post_filter(body: FilterCreate, service: ServiceDep, caller: CuratorDep) -> FilterPublic:
    """Save a named filter; 422 (with the error's position) when it does not compile."""
    try:
        record = save_filter(
            service.catalog,
            name=body.name,
            expression=body.expression,
            description=body.description,
            owner=caller.name,
        )
    except FilterSyntaxError as e:
        raise filter_error(e) from e
    except ConflictError as e:
        raise HTTPException(status_code=409, detail=str(e)) from e
    return FilterPublic.model_validate(record)


@router.post("/alert-filters/try", response_model=FilterTrialPublic)
def post_try(body: FilterTry, service: ServiceDep, _: ViewerDep) -> FilterTrialPublic:
    """How many alerts of the last ``days`` an expression passes (nothing is saved)."""
    try:
        trial = try_filter(service.catalog, body.expression, days=body.days)
    except FilterSyntaxError as e:
        raise filter_error(e) from e
    return FilterTrialPublic.model_validate(trial)


@router.delete("/alert-filters/{name}", status_code=204)
def remove_filter(name: Name, service: ServiceDep, _: CuratorDep) -> Response:
    """Delete a filter (409 while subscriptions use it)."""
    try:
        found = delete_filter(service.catalog, name)
    except ConflictError as e:
        raise HTTPException(status_code=409, detail=str(e)) from e
    if not found:
        raise HTTPException(status_code=404, detail=f"no filter named {name!r}")
    return Response(status_code=204)


@router.get("/subscriptions", response_model=list[SubscriptionPublic])
def get_subscriptions(service: ServiceDep, _: ViewerDep) -> list[SubscriptionPublic]:
    """Every subscription with its delivery counts (the secret is never shown)."""
    counts = delivery_counts(service.catalog)
    return [_subscription_public(s, counts) for s in list_subscriptions(service.catalog)]


@router.post("/subscriptions", status_code=201, response_model=SubscriptionPublic)
def post_subscription(
    body: SubscriptionCreate, service: ServiceDep, caller: CuratorDep
) -> SubscriptionPublic:
    """Connect a saved filter to a destination; 422 when the destination is unusable."""
    try:
        record = save_subscription(
            service.catalog,
            name=body.name,
            filter_name=body.filter,
            kind=body.kind,
            target=body.target,
            options=body.options,
            secret=body.secret,
            max_attempts=body.max_attempts,
            owner=caller.name,
        )
    except ConfigurationError as e:
        where = str(e.details.get("field", "target"))
        raise HTTPException(
            status_code=422,
            detail=[{"loc": ["body", where], "msg": str(e), "type": "value_error"}],
        ) from e
    except ConflictError as e:
        raise HTTPException(status_code=409, detail=str(e)) from e
    return _subscription_public(record, {})


@router.delete("/subscriptions/{name}", status_code=204)
def remove_subscription(name: Name, service: ServiceDep, _: CuratorDep) -> Response:
    """Delete a subscription and its delivery records."""
    if not delete_subscription(service.catalog, name):
        raise HTTPException(status_code=404, detail=f"no subscription named {name!r}")
    return Response(status_code=204)


@router.get("/subscriptions/{name}/deliveries", response_model=list[DeliveryPublic])
def get_deliveries(
    name: Name,
    service: ServiceDep,
    _: ViewerDep,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|dead)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryPublic]:
    """A subscription's delivery records, newest first (``status=dead``: dead letters)."""
    found = next((s for s in list_subscriptions(service.catalog) if s.name == name), None)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no subscription named {name!r}")
    records = list_deliveries(service.catalog, subscription_id=found.id, status=status, limit=limit)
    return [DeliveryPublic.model_validate(r) for r in records]
