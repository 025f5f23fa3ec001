"""Rubin packets for the ingest tests: lsst-alert-packet's samples, those samples repaired
(plausible times, cutouts) and rewritten with their own embedded schema, Rubin-like cutouts."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fastavro
import lsst.alert.packet
import numpy as np
from astropy.io import fits

SCHEMA_ROOT = Path(lsst.alert.packet.__file__).parent / "schema"

#: Every Rubin version the installed lsst-alert-packet ships a sample packet for, ≥ 7.0.
READ_VERSIONS = ("7.0", "7.1", "7.2", "7.3", "7.4", "8.0", "9.0", "10.0", "11.0", "11.1")
OLD_VERSIONS = ("3.0", "4.0", "5.0", "6.0", "6.1")

#: A plausible Rubin time, MJD TAI (2025-08-20).
MJD_TAI = 60907.25


def sample_path(version: str) -> Path:
    major, minor = version.split(".")
    return SCHEMA_ROOT / major / minor / "sample_data" / "fakeAlert.avro"


def sample_packet(version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The sample packet of a version, and the schema embedded in its file."""
    with open(sample_path(version), "rb") as f:
        reader = fastavro.reader(f)
        records = list(reader)
        schema = reader.writer_schema
    assert isinstance(schema, dict) and isinstance(records[0], dict)
    return records[0], schema


def write_packets(path: Path, schema: dict[str, Any], packets: Sequence[dict[str, Any]]) -> Path:
    """Packets as an Avro container with ``schema`` embedded, one block per packet."""
    with open(path, "wb") as out:
        writer = fastavro.write.Writer(out, fastavro.parse_schema(schema))
        for packet in packets:
            writer.write(packet)
            writer.flush()
    return path


def rubin_cutout(image: np.ndarray, *, with_planes: bool = True) -> bytes:
    """A Rubin-like cutout: empty primary, IMAGE, MASK and VARIANCE extensions."""
    hdus: list[Any] = [fits.PrimaryHDU()]
    hdus.append(fits.ImageHDU(np.asarray(image, dtype="f4"), name="IMAGE"))
    if with_planes:
        hdus.append(fits.ImageHDU(np.zeros(image.shape, dtype="i4"), name="MASK"))
        hdus.append(fits.ImageHDU(np.ones(image.shape, dtype="f4"), name="VARIANCE"))
    buffer = io.BytesIO()
    fits.HDUList(hdus).writeto(buffer)
    return buffer.getvalue()


def repaired(version: str, **source: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A version's sample packet with plausible times and cutouts; ``source`` overrides."""
    packet, schema = sample_packet(version)
    packet["diaSource"]["midpointMjdTai"] = MJD_TAI
    for i, prv in enumerate(packet.get("prvDiaSources") or []):
        prv["midpointMjdTai"] = MJD_TAI - 1 - i
    packet["diaSource"].update(source)
    stamp = np.arange(63 * 63, dtype="f4").reshape(63, 63)
    for name in ("cutoutScience", "cutoutTemplate", "cutoutDifference"):
        if name in {f["name"] for f in schema["fields"]}:
            packet[name] = rubin_cutout(stamp)
    return packet, schema
