"""Alert packets as a stream's messages carry them: one message's bytes in, records out.

Two framings are read, told apart by their first bytes:

- an **Avro object container** (``Obj\\x01``) with its schema embedded, as ZTF's stream
  sends every packet (and AstrID's Kafka destination too): read like an alert file;
- the **Confluent wire format** (a zero byte, a 4-byte big-endian schema id, then the
  packet in Avro's binary encoding with no schema), as Rubin's stream sends packets. The
  schema is not in the message: Rubin's ids are ``major × 100 + minor`` of the alert
  schema version (``lsst.alert.packet.Schema.get_schema_id``: 701 is 7.1, 1101 is 11.1),
  and the schema of that version is taken from the installed ``lsst-alert-packet``. An id
  that names no version it ships (a version newer than the package, or an id allocated by
  another registry) is a problem for that message: AstrID reads no schema registry.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastavro
import lsst.alert.packet

from astrid.errors import IngestError
from astrid.ingest.containers import DECODE_ERRORS
from astrid.ingest.files import parse_record, read_alert_stream
from astrid.ingest.records import IngestProblem, SurveyAlert
from astrid.ingest.rubin import OLDEST_RUBIN_VERSION, read_rubin_packet

__all__ = ["read_alert_message", "rubin_schema_of_id", "wire_message"]

_CONTAINER_MAGIC = b"Obj\x01"
_WIRE_HEADER = struct.Struct(">bI")


def read_alert_message(value: bytes, *, name: str) -> Iterator[SurveyAlert | IngestProblem]:
    """The packets of one stream message, each a `SurveyAlert` or an `IngestProblem`.

    Parameters
    ----------
    value : bytes
        The message's value: an Avro container (ZTF) or the Confluent wire format (Rubin).
    name : str
        Where the message came from, for records and problems
        (``"kafka:ztf_alerts/0@1234"``: topic, partition and offset).

    Examples
    --------
    >>> [item] = read_alert_message(b"\\x00\\x00\\x00\\x00\\x07 ...", name="kafka:t/0@5")
    >>> item.path, item.message.split(" (")[0]
    ('kafka:t/0@5', 'schema id 7 names no Rubin alert schema lsst-alert-packet ships')
    """
    if value[:4] == _CONTAINER_MAGIC:
        yield from read_alert_stream(io.BytesIO(value), name)
        return
    if len(value) < _WIRE_HEADER.size or value[0] != 0:
        head = value[:8].hex(" ")
        yield IngestProblem(
            path=name,
            index=None,
            message=f"neither an Avro container nor the Confluent wire format (first bytes {head})",
        )
        return
    _, schema_id = _WIRE_HEADER.unpack_from(value)
    try:
        version, schema = rubin_schema_of_id(schema_id)
    except IngestError as e:
        yield IngestProblem(path=name, index=None, message=str(e), extra=dict(e.details))
        return
    try:
        record = fastavro.schemaless_reader(io.BytesIO(value[_WIRE_HEADER.size :]), schema, None)
    except DECODE_ERRORS as e:
        yield IngestProblem(
            path=name,
            index=0,
            message=f"packet does not decode with the Rubin {version} schema: "
            f"{type(e).__name__}: {e}",
            extra={"schema_id": schema_id},
        )
        return
    yield parse_record(read_rubin_packet, record, name=name, index=0, version=version)


@lru_cache(maxsize=32)
def rubin_schema_of_id(schema_id: int) -> tuple[str, Any]:
    """The version label and parsed schema of a Rubin schema id (``701`` → ``"7.1"``).

    Raises
    ------
    IngestError
        If the id names no version ≥ 7.0 that the installed lsst-alert-packet ships.
    """
    major, minor = divmod(schema_id, 100)
    path = _schema_file(major, minor)
    if (major, minor) < OLDEST_RUBIN_VERSION or path is None:
        known = sorted(_shipped_ids())
        raise IngestError(
            f"schema id {schema_id} names no Rubin alert schema lsst-alert-packet ships "
            f"(ids are major×100+minor, {known[0]} to {known[-1]})",
            schema_id=schema_id,
        )
    definition = lsst.alert.packet.Schema.from_file(str(path)).definition
    return f"{major}.{minor}", fastavro.parse_schema(definition)


def _schema_file(major: int, minor: int) -> Path | None:
    root = Path(lsst.alert.packet.get_schema_root())
    path = root / str(major) / str(minor) / f"lsst.v{major}_{minor}.alert.avsc"
    return path if path.is_file() else None


def _shipped_ids() -> list[int]:
    root = Path(lsst.alert.packet.get_schema_root())
    ids = []
    for path in root.glob("*/*/lsst.v*_*.alert.avsc"):
        major, minor = int(path.parent.parent.name), int(path.parent.name)
        if (major, minor) >= OLDEST_RUBIN_VERSION:
            ids.append(major * 100 + minor)
    return ids


def wire_message(schema_id: int, record: dict[str, Any], schema: Any) -> bytes:
    """A packet in the Confluent wire format (as Rubin's stream frames it; for tests)."""
    buffer = io.BytesIO()
    buffer.write(_WIRE_HEADER.pack(0, schema_id))
    fastavro.schemaless_writer(buffer, schema, record)
    return buffer.getvalue()
