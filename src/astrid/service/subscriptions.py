"""Alert filters and subscriptions as users manage them (API, web page and CLI share this).

`save_filter` checks an expression (`astrid.alerts.compile_alert_filter`) before storing
it, so a bad one is refused with the position of the error (`FilterSyntaxError`);
`try_filter` runs an expression over the alerts of the last days and says how many would
have passed; `save_subscription` checks the destination (building it once with
`astrid.delivery.destination_from_spec`: a bad URL or a missing secret is refused before
anything is stored).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from astrid.alerts.routing import compile_alert_filter
from astrid.catalog import Catalog
from astrid.catalog.alerts import recent_alerts
from astrid.catalog.models import utcnow
from astrid.catalog.subscriptions import (
    FilterRecord,
    SubscriptionRecord,
    add_filter,
    add_subscription,
)
from astrid.delivery import destination_from_spec
from astrid.errors import ConfigurationError

__all__ = [
    "FilterTrial",
    "save_filter",
    "save_subscription",
    "try_filter",
]

#: The most alerts a trial reads.
TRIAL_LIMIT = 100_000


@dataclass(frozen=True)
class FilterTrial:
    """How a filter would have done on the alerts of the last ``days``."""

    expression: str
    days: float
    total: int
    passed: int
    examples: list[dict[str, Any]] = field(default_factory=list)  # fields of the first passes
    truncated: bool = False  # more alerts than TRIAL_LIMIT: only the oldest were tried


def save_filter(
    catalog: Catalog,
    *,
    name: str,
    expression: str,
    description: str | None = None,
    owner: str | None = None,
) -> FilterRecord:
    """Check and store a named filter.

    Raises
    ------
    FilterSyntaxError
        If the expression does not compile (with ``position``).
    ConflictError
        If the name is taken.
    """
    compile_alert_filter(expression)
    return add_filter(
        catalog, name=name, expression=expression, description=description, owner=owner
    )


def try_filter(
    catalog: Catalog, expression: str, *, days: float = 7.0, examples: int = 10
) -> FilterTrial:
    """How many alerts of the last ``days`` the expression passes.

    Raises
    ------
    FilterSyntaxError
        If the expression does not compile.
    """
    flt = compile_alert_filter(expression)
    alerts = recent_alerts(catalog, since=utcnow() - timedelta(days=days), limit=TRIAL_LIMIT)
    passed = [a.fields for a in alerts if flt.matches(a.fields)]
    return FilterTrial(
        expression=expression,
        days=days,
        total=len(alerts),
        passed=len(passed),
        examples=passed[:examples],
        truncated=len(alerts) >= TRIAL_LIMIT,
    )


def save_subscription(
    catalog: Catalog,
    *,
    name: str,
    filter_name: str,
    kind: str,
    target: str,
    options: Mapping[str, Any] | None = None,
    secret: str | None = None,
    max_attempts: int = 8,
    owner: str | None = None,
) -> SubscriptionRecord:
    """Check a destination and store a subscription to it.

    Raises
    ------
    ConfigurationError
        If the destination is not usable (unknown kind, bad URL, missing secret...).
    ConflictError
        If the name is taken or the filter does not exist.
    """
    if not 1 <= max_attempts <= 100:
        raise ConfigurationError(
            f"max_attempts must be between 1 and 100, got {max_attempts}", field="max_attempts"
        )
    destination_from_spec(kind, target, dict(options or {}), secret)
    return add_subscription(
        catalog,
        name=name,
        filter_name=filter_name,
        kind=kind,
        target=target,
        options=dict(options or {}),
        secret=secret,
        max_attempts=max_attempts,
        owner=owner,
    )
