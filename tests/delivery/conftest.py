"""Alerts to deliver and free ports, for the destination tests."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import pytest

from astrid.delivery import OutgoingAlert


def make_alert(alert_id: int, **fields: object) -> OutgoingAlert:
    """An alert with recognisable bytes: the packet is not real Avro, destinations don't care."""
    sidecar = json.dumps({"schema_version": "9.0", "alert_id": alert_id, "rb": 0.9}).encode()
    base = {
        "object_name": f"AT2026x{alert_id}",
        "rb": 0.9123,
        "mag": 18.456,
        "band": "r",
        "ra": 150.1234567,
        "dec": -2.5,
        "context_class": "SN",
    }
    return OutgoingAlert(
        alert_id=alert_id,
        avro=b"Obj\x01" + alert_id.to_bytes(8, "big") + bytes(range(256)),
        sidecar=sidecar,
        fields={**base, **fields},
        summary=f"new source {alert_id}",
    )


@pytest.fixture
def alerts() -> Callable[[int], list[OutgoingAlert]]:
    """``alerts(n)``: n alerts with ids 1001, 1002, ..."""
    return lambda n: [make_alert(1001 + i) for i in range(n)]


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
