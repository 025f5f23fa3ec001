"""Alert files: Avro containers of ZTF or Rubin packets, read one record at a time.

`read_alert_file` never raises for bad data: what cannot be read becomes an
`IngestProblem` and reading goes on where it can. A packet that fails (a required field
missing, a corrupt cutout) is one problem and the next packets still come; a file damaged
part-way (truncated, a block corrupt) gives the packets before the damage (within a
damaged block too: `astrid.ingest.containers`), then a problem naming the record where it
stopped; a file that is not an Avro container, or whose schema
is neither ZTF's (``ztf.alert``) nor a Rubin one of version 7.0 or later, is one problem
for the whole file (``index`` None).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from astrid.errors import IngestError
from astrid.ingest.containers import DECODE_ERRORS, Damage, container_records
from astrid.ingest.records import IngestProblem, SurveyAlert
from astrid.ingest.rubin import read_rubin_packet, rubin_version
from astrid.ingest.ztf import read_ztf_packet

__all__ = ["alert_paths", "read_alert_file", "read_alert_stream"]

_Parser = Callable[..., SurveyAlert]


def _schema_name(schema: Any) -> str:
    """The full name of a container's top-level record ("" if it has none)."""
    if not isinstance(schema, Mapping):
        return ""
    name = str(schema.get("name", ""))
    namespace = schema.get("namespace")
    return f"{namespace}.{name}" if namespace and "." not in name else name


def _parser(schema_name: str) -> tuple[_Parser, dict[str, Any]]:
    """The packet reader for a schema, and its keyword arguments; `IngestError` if none."""
    if schema_name == "ztf.alert":
        return read_ztf_packet, {}
    if schema_name.startswith("lsst."):
        return read_rubin_packet, {"version": rubin_version(schema_name)}
    raise IngestError(
        f"schema {schema_name or '(unnamed)'!r} is neither ZTF's (ztf.alert) "
        "nor Rubin's (lsst.vX_Y.alert)",
        schema=schema_name,
    )


def _packet_id(record: Any) -> str | None:
    """The packet's id if it can be read (ZTF ``candid``, Rubin ``alertId``/``diaSourceId``)."""
    if not isinstance(record, Mapping):
        return None
    for name in ("candid", "alertId", "diaSourceId"):
        if record.get(name) is not None:
            return str(record[name])
    source = record.get("diaSource")
    if isinstance(source, Mapping) and source.get("diaSourceId") is not None:
        return str(source["diaSourceId"])
    return None


def read_alert_file(path: str | Path) -> Iterator[SurveyAlert | IngestProblem]:
    """The packets of an Avro alert file, each as a `SurveyAlert` or an `IngestProblem`.

    Parameters
    ----------
    path : str or Path
        An Avro object container file of ZTF or Rubin (≥ 7.0) packets, any number of them;
        the schema embedded in the file decides how they are read.

    Yields
    ------
    SurveyAlert or IngestProblem
        One item per record, in file order (``index`` its place); after damage, one
        problem saying where the file stopped being readable; for a file that cannot be
        read at all, one problem with ``index`` None.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from astrid.ingest.ztf_layout import write_ztf_packets, ztf_packet
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_ztf_packets(folder / "a.avro", [ztf_packet(1), ztf_packet(2, jd=0.0)])
    >>> for item in read_alert_file(folder / "a.avro"):
    ...     print(type(item).__name__, item.index, getattr(item, "field", None))
    SurveyAlert 0 None
    IngestProblem 1 candidate.jd
    """
    name = str(path)
    try:
        stream = open(path, "rb")  # closed in the finally below
    except OSError as e:
        yield IngestProblem(path=name, index=None, message=f"cannot open {name}: {e}")
        return
    try:
        yield from read_alert_stream(stream, name)
    finally:
        stream.close()


def read_alert_stream(stream: Any, name: str) -> Iterator[SurveyAlert | IngestProblem]:
    """The packets of an Avro container read from a binary stream (`read_alert_file`)."""
    try:
        schema, records = container_records(stream)
    except DECODE_ERRORS as e:
        yield IngestProblem(path=name, index=None, message=f"not an Avro container file: {e}")
        return
    schema_name = _schema_name(schema)
    try:
        parse, options = _parser(schema_name)
    except IngestError as e:
        yield IngestProblem(
            path=name, index=None, message=str(e), extra={"schema": schema_name, **e.details}
        )
        return
    for index, record in enumerate(records):
        if isinstance(record, Damage):
            yield _damaged(name, record.records_read, record.reason)
            return
        yield parse_record(parse, record, name=name, index=index, **options)


def parse_record(
    parse: _Parser, record: Any, *, name: str, index: int, **options: Any
) -> SurveyAlert | IngestProblem:
    """One decoded packet read by its survey's reader, or the problem that stopped it."""
    try:
        return parse(record, path=name, index=index, **options)
    except IngestError as e:
        return IngestProblem(
            path=name,
            index=index,
            message=str(e),
            packet_id=_packet_id(record),
            field=e.details.get("field"),
            extra={k: v for k, v in e.details.items() if k != "field"},
        )


def _damaged(name: str, index: int, why: str) -> IngestProblem:
    return IngestProblem(
        path=name,
        index=index,
        message=f"file truncated or corrupt at record {index}: {why}",
        extra={"records_read": index},
    )


def alert_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[IngestProblem]]:
    """The alert files named: files as given, folders searched for ``*.avro``.

    Parameters
    ----------
    paths : iterable of str or Path
        Files (kept whatever their suffix) and folders (searched recursively for ``*.avro``,
        sorted).

    Returns
    -------
    files : list of Path
        In the order given, each folder's files sorted; a file named twice is listed once.
    problems : list of IngestProblem
        One per path that does not exist (``index`` None).
    """
    files: list[Path] = []
    problems: list[IngestProblem] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.avro") if p.is_file())
        elif path.is_file():
            found = [path]
        else:
            problems.append(IngestProblem(path=str(path), index=None, message="no such file"))
            continue
        for file in found:
            if file not in seen:
                seen.add(file)
                files.append(file)
    return files, problems
