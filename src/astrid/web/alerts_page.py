"""The alerts page: recent alerts, named filters (save, try, delete) and subscriptions.

Its own router (``/alerts``), installed by `astrid.web.site.install`. Saving or trying a
filter that does not compile answers 422 with the expression, a caret under the error and
the message (the same check as the API, `astrid.service.subscriptions`); creating and
deleting needs the curator role.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from astrid.alerts.fields import ALERT_FIELDS
from astrid.alerts.filter_language import FilterSyntaxError
from astrid.catalog.alerts import recent_alerts
from astrid.catalog.deliveries import delivery_counts
from astrid.catalog.models import utcnow
from astrid.catalog.subscriptions import (
    delete_filter,
    delete_subscription,
    list_filters,
    list_subscriptions,
)
from astrid.delivery import DESTINATION_KINDS
from astrid.errors import ConfigurationError, ConflictError
from astrid.service.deps import ServiceDep
from astrid.service.state import Service
from astrid.service.subscriptions import (
    FilterTrial,
    save_filter,
    save_subscription,
    try_filter,
)
from astrid.web.pages import UserDep, _needs, _render

__all__ = ["alerts_router"]

alerts_router = APIRouter(include_in_schema=False)

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_RECENT = 50


def _context(
    service: Service,
    *,
    error: FilterSyntaxError | None = None,
    message: str | None = None,
    trial: FilterTrial | None = None,
    expression: str = "",
) -> dict[str, Any]:
    alerts = recent_alerts(service.catalog, since=utcnow() - timedelta(days=7))
    return {
        "alerts": list(reversed(alerts[-_RECENT:])),
        "n_alerts": len(alerts),
        "filters": list_filters(service.catalog),
        "subscriptions": list_subscriptions(service.catalog),
        "counts": delivery_counts(service.catalog),
        "kinds": DESTINATION_KINDS,
        "fields": ALERT_FIELDS,
        "error": error,
        "message": message,
        "trial": trial,
        "expression": expression,
    }


def _body(
    request: Request, service: Service, user: Any, status: int = 200, **context: Any
) -> HTMLResponse:
    return _render(request, "_alerts_body.html", user, status, **_context(service, **context))


@alerts_router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, service: ServiceDep, user: UserDep) -> HTMLResponse:
    """Recent alerts, filters and subscriptions."""
    return _render(request, "alerts.html", user, **_context(service))


@alerts_router.post("/alerts/filters", response_class=HTMLResponse)
def create_filter(
    request: Request,
    service: ServiceDep,
    user: UserDep,
    name: Annotated[str, Form(pattern=_NAME)],
    expression: Annotated[str, Form(min_length=1, max_length=2000)],
) -> HTMLResponse:
    """Save a filter (422 with the error marked when it does not compile)."""
    _needs(user, "curator")
    try:
        save_filter(service.catalog, name=name, expression=expression, owner=user.name)
    except FilterSyntaxError as e:
        return _body(request, service, user, 422, error=e, expression=expression)
    except ConflictError as e:
        return _body(request, service, user, 409, message=str(e), expression=expression)
    return _body(request, service, user, message=f"filter {name} saved")


@alerts_router.post("/alerts/filters/try", response_class=HTMLResponse)
def try_expression(
    request: Request,
    service: ServiceDep,
    user: UserDep,
    expression: Annotated[str, Form(min_length=1, max_length=2000)],
) -> HTMLResponse:
    """How many alerts of the last 7 days an expression passes."""
    try:
        trial = try_filter(service.catalog, expression)
    except FilterSyntaxError as e:
        return _body(request, service, user, 422, error=e, expression=expression)
    return _body(request, service, user, trial=trial, expression=expression)


@alerts_router.post("/alerts/filters/{name}/delete", response_class=HTMLResponse)
def remove_filter(name: str, request: Request, service: ServiceDep, user: UserDep) -> HTMLResponse:
    """Delete a filter (refused while a subscription uses it)."""
    _needs(user, "curator")
    try:
        found = delete_filter(service.catalog, name)
    except ConflictError as e:
        return _body(request, service, user, 409, message=str(e))
    message = f"filter {name} deleted" if found else f"no filter named {name}"
    return _body(request, service, user, 200 if found else 404, message=message)


@alerts_router.post("/alerts/subscriptions", response_class=HTMLResponse)
def create_subscription(
    request: Request,
    service: ServiceDep,
    user: UserDep,
    name: Annotated[str, Form(pattern=_NAME)],
    filter_name: Annotated[str, Form(alias="filter", pattern=_NAME)],
    kind: Annotated[str, Form(max_length=16)],
    target: Annotated[str, Form(min_length=1, max_length=2000)],
    secret: Annotated[str | None, Form(max_length=1000)] = None,
) -> HTMLResponse:
    """Connect a filter to a destination (files, webhook; e-mail and Kafka need options
    the API and CLI take)."""
    _needs(user, "curator")
    try:
        save_subscription(
            service.catalog,
            name=name,
            filter_name=filter_name,
            kind=kind,
            target=target,
            secret=secret or None,
            owner=user.name,
        )
    except ConfigurationError as e:
        return _body(request, service, user, 422, message=str(e))
    except ConflictError as e:
        return _body(request, service, user, 409, message=str(e))
    return _body(request, service, user, message=f"subscription {name} saved")


@alerts_router.post("/alerts/subscriptions/{name}/delete", response_class=HTMLResponse)
def remove_subscription(
    name: str, request: Request, service: ServiceDep, user: UserDep
) -> HTMLResponse:
    """Delete a subscription and its delivery records."""
    _needs(user, "curator")
    found = delete_subscription(service.catalog, name)
    message = f"subscription {name} deleted" if found else f"no subscription named {name}"
    return _body(request, service, user, 200 if found else 404, message=message)
