"""Alert packets from a stream: message framings, and a Kafka consumer's polls and commits."""

from __future__ import annotations

import socket
from pathlib import Path

import fastavro
import numpy as np
import pytest
from rubin_samples import repaired

from astrid.errors import ConfigurationError, IngestError
from astrid.ingest import IngestProblem, SurveyAlert
from astrid.ingest.kafka_source import KafkaAlertSource
from astrid.ingest.messages import read_alert_message, rubin_schema_of_id, wire_message
from astrid.ingest.ztf_layout import write_ztf_packets, ztf_packet
from fake_kafka import FakeConsumer, FakeError, FakeMessage


def _ztf_message(tmp_path: Path, *candids: int) -> bytes:
    path = tmp_path / f"ztf-{candids[0]}.avro"
    write_ztf_packets(path, [ztf_packet(c) for c in candids])
    return path.read_bytes()


def _rubin_message(version: str = "11.1", **source: object) -> bytes:
    packet, schema = repaired(version, **source)
    major, minor = map(int, version.split("."))
    return wire_message(major * 100 + minor, packet, fastavro.parse_schema(schema))


def test_a_ztf_container_message_reads_like_a_file(tmp_path: Path) -> None:
    items = list(read_alert_message(_ztf_message(tmp_path, 11, 12), name="kafka:ztf/0@7"))
    assert [type(i) for i in items] == [SurveyAlert, SurveyAlert]
    assert [i.source_id for i in items] == [11, 12]  # type: ignore[union-attr]
    assert {i.path for i in items} == {"kafka:ztf/0@7"}


@pytest.mark.parametrize("version", ["7.1", "9.0", "11.1"])
def test_a_rubin_wire_format_message_reads_with_the_schema_its_id_names(version: str) -> None:
    [item] = read_alert_message(_rubin_message(version), name="kafka:lsst/3@9")
    assert isinstance(item, SurveyAlert), item
    assert (item.survey, item.schema_version) == ("rubin", version)
    assert item.stamps.shape == (3, 63, 63) and np.isfinite(item.stamps).all()


def test_schema_ids_follow_lsst_alert_packet() -> None:
    import lsst.alert.packet

    version, parsed = rubin_schema_of_id(1101)
    assert version == "11.1" and parsed["name"] == "lsst.v11_1.alert"
    path = Path(lsst.alert.packet.get_schema_root()) / "11/1/lsst.v11_1.alert.avsc"
    assert lsst.alert.packet.Schema.from_file(str(path)).get_schema_id() == 1101


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"\x00\x00\x00\x02\x59" + b"\x00" * 20, "schema id 601 names no Rubin alert schema"),
        (b"\x00\x00\x00\x00\x07", "schema id 7 names no Rubin alert schema"),
        (b"\x00\x00\x01", "neither an Avro container nor the Confluent wire format"),
        (b'{"candid": 1}', "neither an Avro container nor the Confluent wire format"),
        (b"Obj\x01garbage", "not an Avro container file"),
    ],
)
def test_unreadable_messages_are_problems_naming_the_message(value: bytes, expected: str) -> None:
    [item] = read_alert_message(value, name="kafka:t/0@1")
    assert isinstance(item, IngestProblem) and item.path == "kafka:t/0@1"
    assert expected in item.message


def test_a_wire_format_body_cut_short_is_a_problem() -> None:
    value = _rubin_message("11.1")
    [item] = read_alert_message(value[: len(value) // 2], name="kafka:t/0@2")
    assert isinstance(item, IngestProblem) and item.index == 0
    assert "does not decode with the Rubin 11.1 schema" in item.message


def test_a_bad_packet_in_the_wire_format_names_its_field() -> None:
    [item] = read_alert_message(_rubin_message("11.1", midpointMjdTai=1.0e9), name="kafka:t/0@3")
    assert isinstance(item, IngestProblem)
    assert item.field == "diaSource.midpointMjdTai" and item.packet_id is not None


def _source(consumer: FakeConsumer, **options: object) -> KafkaAlertSource:
    return KafkaAlertSource(
        ["alerts"], bootstrap_servers="fake:9092", consumer=consumer, poll_s=0.01, **options
    )


def test_messages_become_items_and_commits_cover_what_was_yielded(tmp_path: Path) -> None:
    consumer = FakeConsumer.of([_ztf_message(tmp_path, 1), None, _ztf_message(tmp_path, 2, 3)])
    consumer.script.insert(1, None)  # a quiet poll between the messages
    source = _source(consumer, max_messages=3)
    items = source.items()
    first = next(items)
    assert isinstance(first, SurveyAlert) and first.source_id == 1
    source.commit()
    assert consumer.commits == []  # a message counts once all its packets were taken
    assert next(items) is None  # the quiet poll
    source.commit()
    assert consumer.commits == [[("alerts", 0, 1)]]
    rest = list(items)
    assert isinstance(rest[0], IngestProblem) and "no value" in rest[0].message
    assert [i.source_id for i in rest[1:]] == [2, 3]  # type: ignore[union-attr]
    source.commit()
    source.commit()  # nothing new: no second commit
    assert consumer.commits == [[("alerts", 0, 1)], [("alerts", 0, 3)]]
    assert source.messages == 3 and source.committed == 3 and consumer.subscribed == ["alerts"]


def test_offsets_are_committed_per_partition(tmp_path: Path) -> None:
    value = _ztf_message(tmp_path, 5)
    consumer = FakeConsumer(
        [
            FakeMessage(value, ("a", 1, 40)),
            FakeMessage(value, ("a", 0, 7)),
            FakeMessage(value, ("a", 1, 41)),
        ]
    )
    source = _source(consumer, max_messages=3)
    assert len(list(source.items())) == 3
    source.commit()
    assert consumer.commits == [[("a", 0, 8), ("a", 1, 42)]]


def test_reading_stops_after_the_idle_timeout() -> None:
    consumer = FakeConsumer([])
    source = _source(consumer, idle_timeout_s=0.05)
    items = list(source.items())
    assert items and all(i is None for i in items) and consumer.polls == len(items) + 1
    source.commit()
    assert consumer.commits == []


def test_transient_errors_are_polled_through_and_fatal_ones_raise(tmp_path: Path) -> None:
    value = _ztf_message(tmp_path, 8)
    consumer = FakeConsumer(
        [
            FakeMessage(None, problem=FakeError("_PARTITION_EOF")),
            FakeMessage(None, problem=FakeError("_TRANSPORT")),
            FakeMessage(value),
            FakeMessage(None, problem=FakeError("UNKNOWN_TOPIC_OR_PART")),
        ]
    )
    items = _source(consumer).items()
    assert [next(items), next(items)] == [None, None]
    assert isinstance(next(items), SurveyAlert)
    with pytest.raises(IngestError, match="UNKNOWN_TOPIC_OR_PART"):
        next(items)


def test_a_refused_commit_is_an_ingest_error(tmp_path: Path) -> None:
    consumer = FakeConsumer.of([_ztf_message(tmp_path, 9)])
    consumer.refuse_commit = True
    source = _source(consumer, max_messages=1)
    list(source.items())
    with pytest.raises(IngestError, match="commit refused"):
        source.commit()
    assert source.committed == 0


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="no topic"):
        KafkaAlertSource([], bootstrap_servers="x:1", consumer=FakeConsumer([]))
    with pytest.raises(ConfigurationError, match="no bootstrap server"):
        KafkaAlertSource(["t"], bootstrap_servers="", consumer=FakeConsumer([]))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_real_consumer_against_no_broker_reads_nothing_and_stops() -> None:
    pytest.importorskip("confluent_kafka")
    source = KafkaAlertSource(
        ["astrid-test"],
        bootstrap_servers=f"127.0.0.1:{_closed_port()}",
        group_id="astrid-test",
        poll_s=0.2,
        idle_timeout_s=1.0,
    )
    try:
        items = list(source.items())
    finally:
        source.close()
    assert all(i is None for i in items) and source.messages == 0
    source_bad = pytest.raises(ConfigurationError, match="settings refused")
    with source_bad:
        KafkaAlertSource(["t"], bootstrap_servers="127.0.0.1:1", options={"no.such.setting": 1})
