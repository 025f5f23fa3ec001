"""Survey alert packets read from Kafka topics with confluent-kafka (librdkafka).

`KafkaAlertSource.items` polls the topics and yields each message's packets
(`astrid.ingest.messages.read_alert_message`: ZTF's Avro containers and Rubin's Confluent
wire format alike), and ``None`` when a poll brings nothing (a quiet moment: the consumer
of the items may flush what it holds). Offsets are never committed automatically:
`KafkaAlertSource.commit` commits, synchronously, the offsets after every message yielded
so far, and the ingest stage calls it only once those packets are in the catalog. A crash
between storing and committing reads those messages again, and the catalog drops them as
detections it already has: at-least-once from the topic, exactly-once in the catalog.

Reading stops after ``max_messages`` messages, or after ``idle_timeout_s`` seconds with no
message (None: never; a service reads until it is stopped). A broker error that the
consumer cannot recover from (an unknown topic, authorisation refused) raises
`IngestError`; transient ones (brokers down, a partition's end) are logged and polling goes
on, within the idle timeout.

confluent-kafka is an optional dependency (``pip install 'astrid[kafka]'``), imported only
when a source without an injected consumer is built.

Tested here: the real librdkafka consumer against an unreachable bootstrap server (no
messages; stops at the idle timeout, nothing committed), and message handling, commits and
error mapping through an injected consumer. Not exercised: a real broker (no Kafka is
available where the tests run), hence not consumer-group rebalancing, TLS/SASL settings or
the commits a cluster accepts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from astrid.errors import ConfigurationError, IngestError
from astrid.ingest.messages import read_alert_message
from astrid.ingest.records import IngestProblem, SurveyAlert

__all__ = ["KafkaAlertSource"]

log = logging.getLogger(__name__)

#: Consumer errors that end reading (librdkafka names); any other is logged and retried.
FATAL_ERRORS = frozenset(
    {
        "UNKNOWN_TOPIC_OR_PART",
        "_UNKNOWN_TOPIC",
        "_UNKNOWN_PARTITION",
        "TOPIC_AUTHORIZATION_FAILED",
        "GROUP_AUTHORIZATION_FAILED",
        "SASL_AUTHENTICATION_FAILED",
        "_AUTHENTICATION",
        "_INVALID_ARG",
        "_FATAL",
    }
)


def _consumer(config: dict[str, Any]) -> Any:
    """confluent_kafka.Consumer, or ConfigurationError saying how to install or configure."""
    try:
        from confluent_kafka import Consumer, KafkaException
    except ImportError as e:
        raise ConfigurationError(
            "kafka ingest: confluent-kafka is not installed; pip install 'astrid[kafka]'",
            field="kafka",
        ) from e
    try:
        return Consumer(config)
    except (KafkaException, ValueError, TypeError) as e:
        raise ConfigurationError(f"kafka ingest: settings refused: {e}", field="kafka") from e


class KafkaAlertSource:
    """Alert packets from Kafka topics, committed only when the caller says so.

    Parameters
    ----------
    topics : sequence of str
        Topics to subscribe to.
    bootstrap_servers : str
        ``host:port[,host:port...]`` of the cluster.
    group_id : str
        The consumer group: processes sharing one split the partitions, and a restarted
        one goes on from the group's committed offsets.
    options : mapping, optional
        Other librdkafka settings (``security.protocol``, ``sasl.mechanism``,
        ``auto.offset.reset`` (default ``earliest``)...).
    poll_s : float
        Longest wait of one poll.
    idle_timeout_s : float or None
        Stop after this long with no message; None reads until `close` or an interrupt.
    max_messages : int or None
        Stop after this many messages.
    consumer : object, optional
        A consumer with confluent_kafka's ``subscribe``/``poll``/``commit``/``close``
        (tests); by default a ``confluent_kafka.Consumer`` of these settings.
    """

    def __init__(
        self,
        topics: Sequence[str],
        *,
        bootstrap_servers: str,
        group_id: str = "astrid-ingest",
        options: Mapping[str, Any] | None = None,
        poll_s: float = 1.0,
        idle_timeout_s: float | None = None,
        max_messages: int | None = None,
        consumer: Any = None,
    ) -> None:
        if not topics:
            raise ConfigurationError("kafka ingest: no topic given", field="topic")
        if not bootstrap_servers:
            raise ConfigurationError(
                "kafka ingest: no bootstrap server (ASTRID_KAFKA_BOOTSTRAP_SERVERS or "
                "--kafka-bootstrap)",
                field="bootstrap_servers",
            )
        config = {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group_id,
            "auto.offset.reset": "earliest",
            **dict(options or {}),
            "enable.auto.commit": False,  # offsets are committed once the packets are stored
        }
        self.topics = list(topics)
        self.poll_s = poll_s
        self.idle_timeout_s = idle_timeout_s
        self.max_messages = max_messages
        self.messages = 0  # read so far
        self.committed = 0  # messages whose offsets were committed
        self._consumer = consumer if consumer is not None else _consumer(config)
        self._pending: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset
        self._yielded = 0
        self._consumer.subscribe(self.topics)

    def items(self) -> Iterator[SurveyAlert | IngestProblem | None]:
        """Each message's packets (or problems) in order; None after a poll with nothing."""
        quiet_since = time.monotonic()
        while self.max_messages is None or self.messages < self.max_messages:
            message = self._consumer.poll(self.poll_s)
            if message is None or self._failed(message):
                if (
                    self.idle_timeout_s is not None
                    and time.monotonic() - quiet_since >= self.idle_timeout_s
                ):
                    return
                yield None
                continue
            quiet_since = time.monotonic()
            self.messages += 1
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            name = f"kafka:{topic}/{partition}@{offset}"
            value = message.value()
            if value is None:
                yield IngestProblem(path=name, index=None, message="message has no value")
            else:
                yield from read_alert_message(bytes(value), name=name)
            self._pending[(topic, partition)] = offset + 1
            self._yielded += 1

    def _failed(self, message: Any) -> bool:
        """True for an error event (logged; `IngestError` if it ends reading)."""
        error = message.error()
        if error is None:
            return False
        name = str(error.name()) if hasattr(error, "name") else str(error)
        if name in FATAL_ERRORS or (hasattr(error, "fatal") and error.fatal()):
            raise IngestError(
                f"kafka ingest from {', '.join(self.topics)}: {name}: {error}",
                field="kafka",
                error=name,
            )
        if name != "_PARTITION_EOF":
            log.warning("kafka ingest: %s (polling goes on)", error)
        return True

    def commit(self) -> None:
        """Commit the offsets after every message taken so far (synchronously).

        A message counts as taken once the item after its last packet was asked for (so
        a batch that ends inside a message never commits the rest of it).

        Raises
        ------
        IngestError
            If the cluster refuses the commit (those messages will be read again).
        """
        if not self._pending:
            return
        offsets = [_partition(t, p, o) for (t, p), o in sorted(self._pending.items())]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except _commit_errors() as e:
            raise IngestError(f"kafka ingest: commit refused: {e}", field="kafka") from e
        self._pending.clear()
        self.committed += self._yielded
        self._yielded = 0

    def close(self) -> None:
        """Leave the consumer group (what was not committed is read again next time)."""
        self._consumer.close()


def _commit_errors() -> tuple[type[Exception], ...]:
    """What a commit raises: KafkaException, RuntimeError (a closed consumer)."""
    try:
        from confluent_kafka import KafkaException
    except ImportError:
        return (RuntimeError,)
    return (KafkaException, RuntimeError)


def _partition(topic: str, partition: int, offset: int) -> Any:
    """A confluent_kafka.TopicPartition, or a plain tuple where the library is missing."""
    try:
        from confluent_kafka import TopicPartition
    except ImportError:  # an injected consumer without the library (tests)
        return (topic, partition, offset)
    return TopicPartition(topic, partition, offset)
