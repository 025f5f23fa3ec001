"""Request and response bodies of the alerts API: filters, subscriptions, deliveries.

A subscription's secret (webhook HMAC key, SMTP password) is accepted on creation and
never returned: `SubscriptionPublic` says only whether one is set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AlertPublic",
    "DeliveryPublic",
    "FilterCreate",
    "FilterPublic",
    "FilterTrialPublic",
    "FilterTry",
    "SubscriptionCreate",
    "SubscriptionPublic",
]

_NAME = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="letters, digits, _.-")


class _Model(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class FilterCreate(_Model):
    name: str = _NAME
    expression: str = Field(
        min_length=1,
        max_length=2000,
        description="filter expression over alert fields (docs/alert_filters.md)",
    )
    description: str | None = Field(default=None, max_length=2000)


class FilterPublic(_Model):
    id: int
    name: str
    expression: str
    description: str | None
    owner: str | None
    created_at: datetime


class FilterTry(_Model):
    expression: str = Field(min_length=1, max_length=2000)
    days: float = Field(default=7.0, gt=0, le=366, allow_inf_nan=False)


class FilterTrialPublic(_Model):
    expression: str
    days: float
    total: int = Field(description="alerts built in the window")
    passed: int = Field(description="of those, how many the filter passes")
    examples: list[dict[str, Any]] = Field(description="fields of the first alerts passed")
    truncated: bool


class SubscriptionCreate(_Model):
    name: str = _NAME
    filter: str = Field(description="name of a saved filter")
    kind: str = Field(description="files, webhook, email or kafka")
    target: str = Field(
        min_length=1,
        max_length=2000,
        description="folder or fsspec URL, webhook URL, comma-separated e-mail "
        "addresses, or Kafka topic",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="destination options (docs/delivery.md)"
    )
    secret: str | None = Field(
        default=None, max_length=1000, description="webhook HMAC key or SMTP password"
    )
    max_attempts: int = Field(default=8, ge=1, le=100)


class SubscriptionPublic(_Model):
    id: int
    name: str
    filter_name: str
    expression: str
    kind: str
    target: str
    options: dict[str, Any]
    has_secret: bool
    active: bool
    max_attempts: int
    owner: str | None
    created_at: datetime
    deliveries: dict[str, int] = Field(description="delivery records by status")


class DeliveryPublic(_Model):
    id: int
    alert_id: int
    subscription_id: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class AlertPublic(_Model):
    id: int
    run_id: int
    candidate_id: int | None
    object_id: int | None
    created_at: datetime
    sent_at: datetime | None
    schema_version: str | None
    fields: dict[str, Any]
