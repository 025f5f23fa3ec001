"""Tables of alert delivery: named filters, subscriptions, and one record per delivery.

- ``alert_filters``: a named filter expression (`astrid.alerts.filter_language`), checked
  when saved;
- ``alert_subscriptions``: a filter connected to a destination (``kind`` one of
  `astrid.delivery.DESTINATION_KINDS`, ``target`` its address, ``options_json`` the rest,
  ``secret`` the webhook's HMAC key or the SMTP password, never shown by the API);
- ``alert_deliveries``: one row per (alert, subscription) that matched, unique, so an alert
  is recorded once per subscription however often it is routed. ``status`` is
  ``pending`` until the destination acknowledged it (``delivered``) or it failed for good
  (``dead``: the dead-letter record, with ``last_error``); ``attempts`` and
  ``next_attempt_at`` drive the retries, ``claim_token`` / ``claimed_until`` the sender
  holding it (a sender's result is written only while its token is still the row's).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from astrid.catalog.json_columns import JsonText
from astrid.catalog.models import Base, _BigId, _in, utcnow

__all__ = [
    "DELIVERY_STATUSES",
    "AlertDelivery",
    "AlertSubscription",
    "NamedFilter",
]

DELIVERY_STATUSES = ("pending", "delivered", "dead")


class NamedFilter(Base):
    """A named filter over alert fields."""

    __tablename__ = "alert_filters"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    expression: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertSubscription(Base):
    """A filter connected to a destination."""

    __tablename__ = "alert_subscriptions"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    filter_id: Mapped[int] = mapped_column(
        ForeignKey("alert_filters.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    options_json: Mapped[str | None] = mapped_column(JsonText)
    secret: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    owner: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertDelivery(Base):
    """One alert routed to one subscription, and what became of it."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "subscription_id"),
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(_BigId, ForeignKey("alerts.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("alert_subscriptions.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
