"""What a destination is given and what it answers: one alert out, one outcome back.

`OutgoingAlert` is an alert ready to leave: its packet as an Avro container file (the
Rubin schema embedded, `astrid.alerts.AlertPacket.avro_bytes`), AstrID's sidecar as JSON,
and its filter fields (`astrid.alerts.alert_fields`). A destination answers one `Outcome`
per alert: delivered, or not with the reason, and whether trying again can help
(``retry``: a timeout or a 5xx can; a refused destination address cannot), and whether it
was tried at all (``attempted``: False for the alerts a destination skipped after an
earlier failure in the same batch; they do not count as an attempt).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outcome", "OutgoingAlert"]


@dataclass(frozen=True)
class OutgoingAlert:
    """One alert to deliver."""

    alert_id: int
    avro: bytes
    sidecar: bytes
    fields: Mapping[str, Any] = field(default_factory=dict)
    summary: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one alert at one destination."""

    alert_id: int
    delivered: bool
    error: str | None = None
    retry: bool = True
    attempted: bool = True
