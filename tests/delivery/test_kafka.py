"""The Kafka destination: the real librdkafka producer without a broker, and the mapping of
delivery reports through an injected producer. No broker runs here: a real delivery is not
exercised."""

from __future__ import annotations

import time
from typing import Any

import pytest

from astrid.delivery import KafkaDestination
from astrid.errors import ConfigurationError

confluent_kafka = pytest.importorskip("confluent_kafka")
KafkaError = confluent_kafka.KafkaError


class FakeProducer:
    """Records messages; ``flush`` reports them as ``script`` says, by message index.

    ``script[i]`` is None (delivered), a KafkaError code (failed), or "stuck" (no report
    until purged).
    """

    def __init__(
        self,
        script: dict[int, Any] | None = None,
        refuse: dict[int, int] | None = None,
        broken: bool = False,
    ):
        self.script = script or {}
        self.refuse = refuse or {}
        self.broken = broken
        self.messages: list[dict[str, Any]] = []
        self.pending: list[tuple[int, Any]] = []
        self.purged = False

    def produce(self, topic: str, **kwargs: Any) -> None:
        index = len(self.messages)
        self.messages.append({"topic": topic, **kwargs})
        if index in self.refuse:
            raise confluent_kafka.KafkaException(KafkaError(self.refuse[index]))
        self.pending.append((index, kwargs["on_delivery"]))

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        if self.broken:
            raise confluent_kafka.KafkaException(KafkaError(KafkaError._FATAL))
        stuck = []
        for index, callback in self.pending:
            outcome = self.script.get(index)
            if outcome == "stuck" and not self.purged:
                stuck.append((index, callback))
            elif outcome == "stuck":
                callback(KafkaError(KafkaError._PURGE_QUEUE), None)
            else:
                callback(None if outcome is None else KafkaError(outcome), None)
        self.pending = stuck
        return len(stuck)

    def purge(self, *args: Any, **kwargs: Any) -> None:
        self.purged = True


def test_messages_carry_the_packet_key_and_headers(alerts):
    producer = FakeProducer()
    batch = alerts(2)
    dest = KafkaDestination("broker:9092", "astrid-alerts", producer=producer)
    outcomes = dest.send(batch)
    assert [(o.alert_id, o.delivered) for o in outcomes] == [(a.alert_id, True) for a in batch]
    for message, alert in zip(producer.messages, batch, strict=True):
        assert message["topic"] == "astrid-alerts"
        assert message["value"] == alert.avro
        assert message["key"] == str(alert.alert_id).encode()
        assert dict(message["headers"]) == {
            "astrid-alert-id": str(alert.alert_id).encode(),
            "astrid-schema-version": b"9.0",
        }


def test_delivery_reports_become_outcomes(alerts):
    script = {
        1: KafkaError._MSG_TIMED_OUT,
        2: KafkaError.MSG_SIZE_TOO_LARGE,
        3: KafkaError.TOPIC_AUTHORIZATION_FAILED,
        4: "stuck",
        5: KafkaError.NOT_LEADER_FOR_PARTITION,
    }
    producer = FakeProducer(
        script, refuse={6: KafkaError.MSG_SIZE_TOO_LARGE, 7: KafkaError._UNKNOWN_TOPIC}
    )
    batch = alerts(8)
    outcomes = KafkaDestination("b:9092", "t1", producer=producer).send(batch)
    assert [o.alert_id for o in outcomes] == [a.alert_id for a in batch]
    assert [o.delivered for o in outcomes] == [True] + [False] * 7
    assert [o.retry for o in outcomes[1:]] == [True, False, False, True, True, False, True]
    assert all("kafka topic t1 at b:9092" in o.error for o in outcomes[1:])
    assert "_MSG_TIMED_OUT" in outcomes[1].error
    assert "MSG_SIZE_TOO_LARGE" in outcomes[2].error
    assert "purged" in outcomes[4].error and producer.purged
    assert "MSG_SIZE_TOO_LARGE" in outcomes[6].error
    assert "_UNKNOWN_TOPIC" in outcomes[7].error


def test_a_broken_producer_fails_the_batch_without_raising(alerts):
    outcomes = KafkaDestination("b:9092", "t", producer=FakeProducer(broken=True)).send(alerts(2))
    assert all(not o.delivered and o.retry for o in outcomes)
    assert "no delivery report within flush_timeout=10 s" in outcomes[0].error


def test_an_unreachable_broker_fails_every_alert_retryably(closed_port, alerts):
    config = {"message.timeout.ms": "300", "log_level": "0", "socket.timeout.ms": "300"}
    dest = KafkaDestination(
        f"127.0.0.1:{closed_port}", "astrid-test", config=config, flush_timeout=1.0
    )
    start = time.monotonic()
    try:
        outcomes = dest.send(alerts(3))
    finally:
        dest.close(timeout=1.0)
    assert time.monotonic() - start < 5
    assert len(outcomes) == 3
    assert all(not o.delivered and o.retry for o in outcomes)
    assert all("astrid-test" in o.error for o in outcomes)


def test_an_empty_batch_produces_nothing():
    producer = FakeProducer()
    assert KafkaDestination("b:9092", "t", producer=producer).send([]) == []
    assert producer.messages == []


@pytest.mark.parametrize(
    ("servers", "topic", "kwargs", "field"),
    [
        ("", "t", {}, "bootstrap_servers"),
        ("b:9092", "", {}, "topic"),
        ("b:9092", "bad topic!", {}, "topic"),
        ("b:9092", "t", {"flush_timeout": 0}, "flush_timeout"),
        ("b:9092", "t", {"config": {"no.such.setting": "1"}}, "config"),
    ],
)
def test_configuration_errors(servers, topic, kwargs, field):
    with pytest.raises(ConfigurationError, match=field) as info:
        KafkaDestination(servers, topic, **kwargs)
    assert info.value.field == field


def test_missing_confluent_kafka_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'astrid\[kafka\]'"):
        KafkaDestination("b:9092", "t")
