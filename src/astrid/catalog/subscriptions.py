"""Named alert filters and subscriptions in the catalog.

A filter's expression is stored as the user wrote it; checking it is the caller's job
(`astrid.alerts.compile_filter`) before `add_filter`. A subscription connects a filter to a
destination (kind, target, options, secret); deleting a filter that a subscription uses is
refused with a `ConflictError` naming the subscriptions, and a name already taken is one
too. Records carry the secret for the sender; the API's schemas never show it.

All functions take the `Catalog` first; times are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from astrid.catalog.delivery_models import AlertSubscription, NamedFilter
from astrid.catalog.json_columns import dumps_json, loads_json
from astrid.catalog.records import record_from_row
from astrid.catalog.repository import Catalog, catalog_errors
from astrid.errors import ConflictError

__all__ = [
    "FilterRecord",
    "SubscriptionRecord",
    "add_filter",
    "add_subscription",
    "delete_filter",
    "delete_subscription",
    "filter_by_name",
    "list_filters",
    "list_subscriptions",
    "set_subscription_active",
]


@dataclass(frozen=True)
class FilterRecord:
    """A named filter."""

    id: int
    name: str
    expression: str
    description: str | None
    owner: str | None
    created_at: datetime


@dataclass(frozen=True)
class SubscriptionRecord:
    """A subscription, with its filter's name and expression."""

    id: int
    name: str
    filter_id: int
    filter_name: str
    expression: str
    kind: str
    target: str
    options: dict[str, Any]
    secret: str | None
    active: bool
    max_attempts: int
    owner: str | None
    created_at: datetime


def add_filter(
    catalog: Catalog,
    *,
    name: str,
    expression: str,
    description: str | None = None,
    owner: str | None = None,
) -> FilterRecord:
    """Store a named filter (its expression already checked).

    Raises
    ------
    ConflictError
        If a filter of that name exists.
    """
    with catalog_errors(f"add filter {name!r}"), catalog.session() as session:
        try:
            with session.begin():
                row = NamedFilter(
                    name=name, expression=expression, description=description, owner=owner
                )
                session.add(row)
                session.flush()
                return record_from_row(FilterRecord, row)
        except IntegrityError as e:
            raise ConflictError(f"a filter named {name!r} exists already", name=name) from e


def list_filters(catalog: Catalog) -> list[FilterRecord]:
    """Every filter, by name."""
    with catalog_errors("list filters"), catalog.session() as session:
        rows = session.scalars(select(NamedFilter).order_by(NamedFilter.name))
        return [record_from_row(FilterRecord, row) for row in rows]


def filter_by_name(catalog: Catalog, name: str) -> FilterRecord | None:
    """The filter of that name, or None."""
    with catalog_errors(f"read filter {name!r}"), catalog.session() as session:
        row = session.scalar(select(NamedFilter).where(NamedFilter.name == name))
        return None if row is None else record_from_row(FilterRecord, row)


def delete_filter(catalog: Catalog, name: str) -> bool:
    """Delete a filter; False when there is none of that name.

    Raises
    ------
    ConflictError
        If subscriptions use it (they are named).
    """
    with catalog_errors(f"delete filter {name!r}"), catalog.session() as session:
        with session.begin():
            row = session.scalar(select(NamedFilter).where(NamedFilter.name == name))
            if row is None:
                return False
            users = list(
                session.scalars(
                    select(AlertSubscription.name).where(AlertSubscription.filter_id == row.id)
                )
            )
            if users:
                raise ConflictError(
                    f"filter {name!r} is used by subscription(s) {', '.join(sorted(users))}; "
                    "delete them first",
                    name=name,
                    subscriptions=users,
                )
            session.delete(row)
    return True


def _subscription(row: AlertSubscription, flt: NamedFilter) -> SubscriptionRecord:
    return record_from_row(
        SubscriptionRecord,
        row,
        filter_name=flt.name,
        expression=flt.expression,
        options=loads_json(row.options_json),
    )


def add_subscription(
    catalog: Catalog,
    *,
    name: str,
    filter_name: str,
    kind: str,
    target: str,
    options: dict[str, Any] | None = None,
    secret: str | None = None,
    max_attempts: int = 8,
    owner: str | None = None,
) -> SubscriptionRecord:
    """Connect the filter ``filter_name`` to a destination (checked by the caller).

    Raises
    ------
    ConflictError
        If a subscription of that name exists, or there is no such filter.
    """
    with catalog_errors(f"add subscription {name!r}"), catalog.session() as session:
        try:
            with session.begin():
                flt = session.scalar(select(NamedFilter).where(NamedFilter.name == filter_name))
                if flt is None:
                    raise ConflictError(f"no filter named {filter_name!r}", name=filter_name)
                row = AlertSubscription(
                    name=name,
                    filter_id=flt.id,
                    kind=kind,
                    target=target,
                    options_json=dumps_json(options or {}, where=f"subscription {name} options"),
                    secret=secret,
                    active=True,
                    max_attempts=max_attempts,
                    owner=owner,
                )
                session.add(row)
                session.flush()
                return _subscription(row, flt)
        except IntegrityError as e:
            raise ConflictError(f"a subscription named {name!r} exists already", name=name) from e


def list_subscriptions(catalog: Catalog, *, active_only: bool = False) -> list[SubscriptionRecord]:
    """Every subscription (or only the active ones), by name."""
    with catalog_errors("list subscriptions"), catalog.session() as session:
        query = (
            select(AlertSubscription, NamedFilter)
            .join(NamedFilter, NamedFilter.id == AlertSubscription.filter_id)
            .order_by(AlertSubscription.name)
        )
        if active_only:
            query = query.where(AlertSubscription.active.is_(True))
        return [_subscription(row, flt) for row, flt in session.execute(query)]


def set_subscription_active(catalog: Catalog, name: str, active: bool) -> bool:
    """Pause or resume a subscription; False when there is none of that name."""
    with catalog_errors(f"update subscription {name!r}"), catalog.session() as session:
        with session.begin():
            row = session.scalar(select(AlertSubscription).where(AlertSubscription.name == name))
            if row is None:
                return False
            row.active = active
    return True


def delete_subscription(catalog: Catalog, name: str) -> bool:
    """Delete a subscription and its delivery records; False when there is none."""
    with catalog_errors(f"delete subscription {name!r}"), catalog.session() as session:
        with session.begin():
            result = session.execute(
                delete(AlertSubscription).where(AlertSubscription.name == name)
            )
            return bool(getattr(result, "rowcount", 0))
