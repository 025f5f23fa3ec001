"""Avro object container files read block by block, keeping what comes before damage.

fastavro decodes a container one block at a time and gives nothing of a block it cannot
read whole. A damaged file (cut short by a failed copy, bytes overwritten) is read here
block by block; at the first block that fails, the records of that block are decoded one
at a time from the bytes there are (``null`` and ``deflate`` codecs: a deflate stream cut
short still inflates up to the cut) until one fails, and then a `Damage` marker ends the
records. Bytes left after the last block are damage too.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import fastavro
import fastavro.read
import fastavro.schema

__all__ = ["DECODE_ERRORS", "Damage", "container_records"]

#: What fastavro raises for bytes that do not decode (as opposed to a bug of ours).
DECODE_ERRORS = (
    EOFError,
    ValueError,
    IndexError,
    KeyError,
    OverflowError,
    MemoryError,
    zlib.error,
    fastavro.read.SchemaResolutionError,
    # a corrupt header: the embedded schema does not parse
    fastavro.schema.SchemaParseException,
    fastavro.schema.UnknownType,
)

_MAX_SALVAGE_BYTES = 1 << 30


@dataclass(frozen=True)
class Damage:
    """Where a container stopped being readable: after ``records_read`` records, and why."""

    records_read: int
    reason: str


def container_records(stream: BinaryIO) -> tuple[Any, Iterator[Any]]:
    """The embedded schema of a container, and its records (ending with `Damage` if damaged).

    Raises
    ------
    ValueError, EOFError, ...
        One of `DECODE_ERRORS` if the header cannot be read: not an Avro container.
    """
    blocks = fastavro.block_reader(stream)
    return blocks.writer_schema, _records(stream, blocks, stream.tell())


def _records(stream: BinaryIO, blocks: Any, start: int) -> Iterator[Any]:
    size = _size(stream)
    count = 0
    iterator = iter(blocks)
    while True:
        try:
            block = next(iterator)
            records = list(block)
        except StopIteration:
            break
        except (*DECODE_ERRORS, OSError) as e:
            salvaged = _salvage(stream, start, blocks.codec, blocks.writer_schema)
            yield from salvaged
            count += len(salvaged)
            yield Damage(count, f"{type(e).__name__}: {e}")
            return
        yield from records
        count += len(records)
        start = block.offset + block.size
    if size is not None and start < size:
        yield Damage(count, f"{size - start} bytes after the last whole block")


def _size(stream: BinaryIO) -> int | None:
    """The stream's length in bytes: a file's or an in-memory buffer's (None if unknown)."""
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, ValueError):  # io.BytesIO has no file descriptor
        pass
    try:
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
        return end
    except (OSError, ValueError):
        return None


def _read_long(stream: BinaryIO) -> int:
    """An Avro (zig-zag varint) long; `EOFError` at the end of the bytes."""
    shift, value = 0, 0
    while True:
        byte = stream.read(1)
        if not byte:
            raise EOFError("end of file inside a block header")
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return (value >> 1) ^ -(value & 1)
        shift += 7
        if shift > 63:
            raise ValueError("block header: varint too long")


def _salvage(stream: BinaryIO, start: int, codec: str, schema: Any) -> list[Any]:
    """The records of the damaged block at ``start`` that decode from the bytes there are."""
    try:
        stream.seek(start)
        count = _read_long(stream)
        length = _read_long(stream)
        data = stream.read(max(0, min(length, _MAX_SALVAGE_BYTES)))
        if codec == "null":
            payload = data
        elif codec == "deflate":
            payload = zlib.decompressobj(-15).decompress(data)
        else:
            return []
    except (*DECODE_ERRORS, OSError):
        return []
    records: list[Any] = []
    body = io.BytesIO(payload)
    parsed = fastavro.parse_schema(schema)
    while len(records) < count and body.tell() < len(payload):
        try:
            records.append(fastavro.schemaless_reader(body, parsed, None))
        except DECODE_ERRORS:
            break
    return records
