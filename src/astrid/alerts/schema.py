"""The Rubin alert schema as the ``lsst-alert-packet`` package ships it, and Avro files of it.

`rubin_schema` loads the newest schema version the installed package holds, through the
package's own API (`lsst.alert.packet.get_latest_schema_version` and
`lsst.alert.packet.Schema.from_file`), once per process; fastavro parses it. AstrID's
packets are plain records of that schema: nothing is added to it (AstrID's own values go
in a sidecar, `astrid.alerts.sidecar`), so any Rubin consumer reads them as they are.

`container_bytes` writes records as an Avro object container file (the schema embedded, as
ZTF's and Rubin's alert archives distribute them), validating every record first;
`read_container` reads such a file back with the schema embedded in it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import fastavro
import fastavro.validation
import lsst.alert.packet

from astrid.errors import AlertError

__all__ = ["AlertSchema", "container_bytes", "read_container", "rubin_schema"]


@dataclass(frozen=True)
class AlertSchema:
    """One version of the Rubin alert schema, parsed by fastavro.

    Attributes
    ----------
    version : tuple of int
        ``(major, minor)``, e.g. ``(11, 1)``.
    parsed : dict
        The schema as `fastavro.parse_schema` returns it (named types resolved).
    """

    version: tuple[int, int]
    parsed: dict[str, Any]

    @property
    def label(self) -> str:
        """The version as text, ``"11.1"``."""
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def name(self) -> str:
        """The full name of the alert record, ``"lsst.v11_1.alert"``."""
        return str(self.parsed["name"])

    @cached_property
    def header_json(self) -> bytes:
        """The schema as fastavro embeds it in a container file's header (``avro.schema``):
        read once from an empty container it writes, so `container_bytes` need not
        serialise the schema again for every packet."""
        buffer = io.BytesIO()
        fastavro.writer(buffer, self.parsed, [])
        buffer.seek(0)
        return str(fastavro.reader(buffer).metadata["avro.schema"]).encode()

    @cached_property
    def record_types(self) -> dict[str, tuple[str, ...]]:
        """The field names of each record type, by short name (``"diaSource"``, ...)."""
        found: dict[str, tuple[str, ...]] = {}
        _collect_records(self.parsed, found)
        return found


def _collect_records(node: Any, found: dict[str, tuple[str, ...]]) -> None:
    """Every record definition in a parsed schema, by the last part of its name."""
    if isinstance(node, dict):
        if node.get("type") == "record":
            short = str(node["name"]).rsplit(".", 1)[-1]
            found.setdefault(short, tuple(entry["name"] for entry in node["fields"]))
            for entry in node["fields"]:
                _collect_records(entry["type"], found)
        else:
            for value in node.values():
                _collect_records(value, found)
    elif isinstance(node, list):
        for item in node:
            _collect_records(item, found)


@lru_cache(maxsize=1)
def rubin_schema() -> AlertSchema:
    """The newest Rubin alert schema of the installed ``lsst-alert-packet`` (cached).

    Examples
    --------
    >>> schema = rubin_schema()
    >>> schema.name.startswith("lsst.v") and schema.name.endswith(".alert")
    True
    """
    major, minor = lsst.alert.packet.get_latest_schema_version()
    definition = lsst.alert.packet.Schema.from_file().definition
    parsed = fastavro.parse_schema(definition)
    if not isinstance(parsed, dict):  # an alert schema is one record type
        raise AlertError(f"lsst-alert-packet {major}.{minor}: the alert schema is not a record")
    return AlertSchema(version=(int(major), int(minor)), parsed=parsed)


def container_bytes(
    schema: AlertSchema,
    records: Iterable[Mapping[str, Any]],
    *,
    metadata: Mapping[str, str] | None = None,
) -> bytes:
    """An Avro object container file of ``records`` (the schema embedded in its header).

    The writer refuses a value of the wrong type or a missing required field; a full
    `fastavro.validation.validate` (which the tests run on every packet) would cost more
    than building the packet, so it runs only to explain a refusal.

    Raises
    ------
    AlertError
        If a record does not follow the schema (the message names the field).
    """
    records = list(records)
    block = io.BytesIO()
    try:
        for record in records:
            fastavro.schemaless_writer(block, schema.parsed, record)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
        detail = str(e)
        for record in records:
            try:
                fastavro.validation.validate(record, schema.parsed, raise_errors=True)
            except fastavro.validation.ValidationError as invalid:
                detail = str(invalid)
                break
        raise AlertError(
            f"alert record does not follow {schema.name}: {detail}",
            schema_version=schema.label,
        ) from e
    # The container as the Avro specification lays it out (what fastavro.writer writes,
    # without serialising the schema again): header, then one block of every record.
    sync = os.urandom(16)
    meta = {"avro.schema": schema.header_json, "avro.codec": b"null"}
    meta.update({key: value.encode() for key, value in (metadata or {}).items()})
    out = io.BytesIO()
    fastavro.schemaless_writer(out, _HEADER, {"magic": b"Obj\x01", "meta": meta, "sync": sync})
    if records:
        data = block.getvalue()
        fastavro.schemaless_writer(out, _LONG, len(records))
        fastavro.schemaless_writer(out, _LONG, len(data))
        out.write(data)
        out.write(sync)
    return out.getvalue()


#: An Avro object container file's header and block counts (the specification's schemas).
_HEADER = fastavro.parse_schema(
    {
        "type": "record",
        "name": "org.apache.avro.file.Header",
        "fields": [
            {"name": "magic", "type": {"type": "fixed", "name": "Magic", "size": 4}},
            {"name": "meta", "type": {"type": "map", "values": "bytes"}},
            {"name": "sync", "type": {"type": "fixed", "name": "Sync", "size": 16}},
        ],
    }
)
_LONG = fastavro.parse_schema("long")


def read_container(data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The embedded schema and the records of an Avro object container file.

    Raises
    ------
    AlertError
        If the bytes are not a readable Avro container file.
    """
    try:
        reader = fastavro.reader(io.BytesIO(data))
        records = [dict(r) for r in reader if isinstance(r, dict)]
    except (ValueError, EOFError, StopIteration, fastavro.read.SchemaResolutionError) as e:
        raise AlertError(f"not a readable Avro container file: {e}") from e
    writer_schema = reader.writer_schema
    return (writer_schema if isinstance(writer_schema, dict) else {}), records
