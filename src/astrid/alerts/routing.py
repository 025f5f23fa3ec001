"""Which subscriptions an alert goes to: every active subscription whose filter it passes.

`Router` compiles each subscription's filter once (`astrid.alerts.compile_filter` over
`ALERT_FIELDS`) and tests alerts' filter fields against them. A stored filter that no
longer compiles (a field renamed since it was saved) does not stop the others: its
subscription gets nothing and the reason is kept in ``problems``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from astrid.alerts.fields import ALERT_FIELDS
from astrid.alerts.filter_language import AlertFilter, FilterSyntaxError, compile_filter

__all__ = ["FILTER_FIELD_KINDS", "Router", "Subscribed", "compile_alert_filter"]

log = logging.getLogger(__name__)

#: The kind of every filter field, as the filter language checks them.
FILTER_FIELD_KINDS = {name: kind for name, (kind, _) in ALERT_FIELDS.items()}


def compile_alert_filter(expression: str) -> AlertFilter:
    """A filter over the alert fields (`ALERT_FIELDS`).

    Raises
    ------
    FilterSyntaxError
        If the expression is malformed or names an unknown field (with its position).
    """
    return compile_filter(expression, FILTER_FIELD_KINDS)


class Subscribed(Protocol):
    """What the router needs of a subscription."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def expression(self) -> str: ...


class Router:
    """Test alerts against the filters of subscriptions.

    Parameters
    ----------
    subscriptions : sequence
        The active subscriptions (anything with ``id``, ``name`` and ``expression``).
    """

    def __init__(self, subscriptions: Sequence[Subscribed]) -> None:
        self.filters: list[tuple[int, AlertFilter]] = []
        self.problems: dict[str, str] = {}
        for subscription in subscriptions:
            try:
                self.filters.append(
                    (subscription.id, compile_alert_filter(subscription.expression))
                )
            except FilterSyntaxError as e:
                log.warning(
                    "subscription %s: its filter does not compile: %s", subscription.name, e
                )
                self.problems[subscription.name] = str(e)

    def matches(self, alerts: Iterable[tuple[int, Mapping[str, Any]]]) -> list[tuple[int, int]]:
        """The (alert id, subscription id) pairs whose filter passes the alert's fields."""
        return [
            (alert_id, subscription_id)
            for alert_id, fields in alerts
            for subscription_id, flt in self.filters
            if flt.matches(fields)
        ]
