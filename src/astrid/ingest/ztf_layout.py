"""ZTF packets written for tests and benchmarks: a ZTF-like Avro schema and its files.

`ztf_schema` is AstrID's own rendering of the ZTF alert schema (record ``ztf.alert``): the
fields AstrID reads, with ZTF's names and types, plus a few realistic extras (``field``,
``rcid``, ``programid``, ``ssdistnr``, ``sgscore1``). It is not ZTF's full schema (which
has ~100 candidate fields); readers of real packets use the schema embedded in each file.
`write_ztf_packets` writes an Avro container with it, one block per packet, as the ZTF
archive's files are read; `ztf_stamp` makes a cutout's ``stampData`` (gzip FITS);
`ztf_packet` builds a plausible packet to start from.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
from astropy.io import fits

__all__ = ["write_ztf_packets", "ztf_packet", "ztf_schema", "ztf_stamp"]

_CANDIDATE_FIELDS: tuple[tuple[str, Any], ...] = (
    ("jd", "double"),
    ("fid", "int"),
    ("pid", "long"),
    ("diffmaglim", ["null", "float"]),
    ("programid", "int"),
    ("candid", "long"),
    ("isdiffpos", "string"),
    ("field", ["null", "int"]),
    ("rcid", ["null", "int"]),
    ("ra", "double"),
    ("dec", "double"),
    ("magpsf", "float"),
    ("sigmapsf", "float"),
    ("fwhm", ["null", "float"]),
    ("rb", ["null", "float"]),
    ("ssdistnr", ["null", "float"]),
    ("sgscore1", ["null", "float"]),
    ("drb", ["null", "float"]),
)

_PRV_FIELDS: tuple[tuple[str, Any], ...] = (
    ("jd", "double"),
    ("fid", "int"),
    ("pid", "long"),
    ("diffmaglim", ["null", "float"]),
    ("programid", "int"),
    ("candid", ["null", "long"]),
    ("isdiffpos", ["null", "string"]),
    ("ra", ["null", "double"]),
    ("dec", ["null", "double"]),
    ("magpsf", ["null", "float"]),
    ("sigmapsf", ["null", "float"]),
    ("rb", ["null", "float"]),
    ("drb", ["null", "float"]),
)


def _fields(fields: Iterable[tuple[str, Any]], drop: Iterable[str]) -> list[dict[str, Any]]:
    dropped = set(drop)
    return [
        {"name": name, "type": kind, **({"default": None} if isinstance(kind, list) else {})}
        for name, kind in fields
        if name not in dropped
    ]


def ztf_schema(*, drop: Sequence[str] = ()) -> dict[str, Any]:
    """A ZTF-like alert schema (record ``ztf.alert``), as a JSON-able dict.

    Parameters
    ----------
    drop : sequence of str
        Candidate fields to leave out (tests of packets that lack one: ``("ra",)``).
    """
    cutout = {
        "type": "record",
        "name": "cutout",
        "namespace": "ztf.alert",
        "fields": [{"name": "fileName", "type": "string"}, {"name": "stampData", "type": "bytes"}],
    }
    candidate = {
        "type": "record",
        "name": "candidate",
        "namespace": "ztf.alert",
        "fields": _fields(_CANDIDATE_FIELDS, drop),
    }
    prv = {
        "type": "record",
        "name": "prv_candidate",
        "namespace": "ztf.alert",
        "fields": _fields(_PRV_FIELDS, ()),
    }
    return {
        "type": "record",
        "name": "alert",
        "namespace": "ztf",
        "doc": "ZTF-like alert packet written by astrid.ingest.ztf_layout (a subset of ZTF's)",
        "fields": [
            {"name": "schemavsn", "type": "string"},
            {"name": "publisher", "type": "string"},
            {"name": "objectId", "type": "string"},
            {"name": "candid", "type": "long"},
            {"name": "candidate", "type": candidate},
            {
                "name": "prv_candidates",
                "type": ["null", {"type": "array", "items": prv}],
                "default": None,
            },
            {"name": "cutoutScience", "type": ["null", cutout], "default": None},
            {"name": "cutoutTemplate", "type": ["null", "ztf.alert.cutout"], "default": None},
            {"name": "cutoutDifference", "type": ["null", "ztf.alert.cutout"], "default": None},
        ],
    }


def ztf_stamp(data: np.ndarray) -> bytes:
    """A cutout's ``stampData`` as ZTF writes it: a gzip-compressed FITS file (float32)."""
    buffer = io.BytesIO()
    fits.PrimaryHDU(np.asarray(data, dtype=">f4")).writeto(buffer)
    return gzip.compress(buffer.getvalue(), mtime=0)


def ztf_packet(
    candid: int,
    *,
    stamp: np.ndarray | None = None,
    stamps: Sequence[np.ndarray] | None = None,
    prv_candidates: list[dict[str, Any]] | None = None,
    **candidate: Any,
) -> dict[str, Any]:
    """A plausible ZTF packet: a positive r-band detection; ``candidate`` fields override.

    ``stamp`` (63×63 of ones when None) is used for all three cutouts, unless ``stamps``
    gives science, template and difference.
    """
    fields = {
        "jd": 2460000.75,
        "fid": 2,
        "pid": 2234567890123,
        "diffmaglim": 20.5,
        "programid": 1,
        "candid": candid,
        "isdiffpos": "t",
        "field": 600,
        "rcid": 31,
        "ra": 150.1,
        "dec": 2.2,
        "magpsf": 19.0,
        "sigmapsf": 0.05,
        "fwhm": 2.1,
        "rb": 0.7,
        "ssdistnr": None,
        "sgscore1": 0.2,
        "drb": 0.95,
    }
    fields.update(candidate)
    pixels = np.ones((63, 63), dtype=np.float32) if stamp is None else stamp
    triplet = (pixels,) * 3 if stamps is None else tuple(stamps)
    if len(triplet) != 3:
        raise ValueError(f"stamps: expected science, template and difference, got {len(triplet)}")
    cutouts = {
        name: {"fileName": f"candid{candid}_{kind}.fits.gz", "stampData": ztf_stamp(data)}
        for (name, kind), data in zip(
            (
                ("cutoutScience", "sci"),
                ("cutoutTemplate", "ref"),
                ("cutoutDifference", "diff"),
            ),
            triplet,
            strict=True,
        )
    }
    return {
        "schemavsn": "4.02",
        "publisher": "ZTF (www.ztf.caltech.edu)",
        "objectId": "ZTF23aaaaaaa",
        "candid": candid,
        "candidate": fields,
        "prv_candidates": prv_candidates,
        **cutouts,
    }


def write_ztf_packets(
    path: str | Path, alerts: Sequence[Mapping[str, Any]], *, schema: dict[str, Any] | None = None
) -> None:
    """Write packets as an Avro container file, the schema embedded, one block per packet.

    Parameters
    ----------
    path : str or Path
        The file to write.
    alerts : sequence of mapping
        Packets of `ztf_schema` (see `ztf_packet`).
    schema : dict, optional
        Another schema to write them with (`ztf_schema` with fields dropped, say).
    """
    parsed = fastavro.parse_schema(schema if schema is not None else ztf_schema())
    with open(path, "wb") as out:
        writer = fastavro.write.Writer(out, parsed)
        for alert in alerts:
            writer.write(dict(alert))
            writer.flush()
        writer.flush()
