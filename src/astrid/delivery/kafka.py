"""Alerts produced to an Apache Kafka topic with confluent-kafka (librdkafka).

Each alert is one message: the value is the packet's Avro container bytes, schema embedded
(as ZTF's alert stream does, so a consumer needs no schema registry), the key is the alert
id as text, and the headers are ``astrid-alert-id`` and ``astrid-schema-version`` (the
sidecar's ``schema_version``). Outcomes come from librdkafka's per-message delivery reports:
`KafkaDestination.send` produces the batch, then flushes for at most ``flush_timeout``
seconds; messages still queued then are purged from the producer and reported failed with
``retry=True`` (a consumer may still see one that was in flight: delivery is at least once,
keyed by alert id).

confluent-kafka is an optional dependency (``pip install 'astrid[kafka]'``), imported
only when a destination is built.

Tested here: the real librdkafka producer against an unreachable bootstrap server (every
alert fails with ``retry=True``), and the mapping of delivery reports, successes and
`confluent_kafka.KafkaError` values, through an injected producer. Not exercised: a real
broker (no Kafka is available where the tests run), hence not TLS/SASL settings,
partitioning or acknowledgements by a cluster.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from astrid.delivery.outgoing import Outcome, OutgoingAlert
from astrid.errors import ConfigurationError

__all__ = ["KAFKA_ALERT_ID_HEADER", "KAFKA_SCHEMA_VERSION_HEADER", "KafkaDestination"]

log = logging.getLogger(__name__)

KAFKA_ALERT_ID_HEADER = "astrid-alert-id"
KAFKA_SCHEMA_VERSION_HEADER = "astrid-schema-version"

#: Legal Kafka topic names.
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")

#: Delivery-report errors that the same message will meet again (librdkafka names).
PERMANENT_ERRORS = frozenset(
    {
        "MSG_SIZE_TOO_LARGE",
        "_MSG_SIZE_TOO_LARGE",
        "INVALID_MSG_SIZE",
        "INVALID_RECORD",
        "CORRUPT_MESSAGE",
        "TOPIC_AUTHORIZATION_FAILED",
        "CLUSTER_AUTHORIZATION_FAILED",
        "TOPIC_EXCEPTION",
        "_INVALID_ARG",
    }
)

#: Delivery-report errors of messages purged after the flush timeout.
_PURGED = frozenset({"_PURGE_QUEUE", "_PURGE_INFLIGHT"})


def _producer_class() -> Any:
    """confluent_kafka.Producer, or ConfigurationError saying how to install it."""
    try:
        from confluent_kafka import Producer
    except ImportError as e:
        raise ConfigurationError(
            "kafka destination: confluent-kafka is not installed; pip install 'astrid[kafka]'",
            field="kafka",
        ) from e
    return Producer


def _schema_version(sidecar: bytes) -> str:
    """The sidecar's ``schema_version``, or "" when it has none."""
    try:
        value = json.loads(sidecar).get("schema_version")
    except (ValueError, AttributeError):
        return ""
    return "" if value is None else str(value)


class KafkaDestination:
    """Produce each alert as one Kafka message to a topic.

    Parameters
    ----------
    bootstrap_servers : str
        ``host:port[,host:port...]`` of the cluster.
    topic : str
        The topic to produce to.
    config : mapping of str to str, optional
        Further librdkafka settings (``security.protocol``, ``sasl.username``,
        ``message.timeout.ms``...); ``bootstrap.servers`` comes from the argument.
    flush_timeout : float
        Seconds `send` waits for the delivery reports of a batch.
    producer : object, optional
        A producer with confluent_kafka's ``produce``/``poll``/``flush``/``purge`` (tests,
        or a shared producer); by default one is built from the settings.

    Raises
    ------
    ConfigurationError
        For an empty bootstrap list, an illegal topic name, a non-positive flush timeout,
        settings librdkafka refuses, or confluent-kafka not installed; ``field`` names it.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        config: Mapping[str, str] | None = None,
        flush_timeout: float = 10.0,
        producer: Any = None,
    ) -> None:
        if not bootstrap_servers or not bootstrap_servers.strip():
            raise ConfigurationError(
                "kafka destination: bootstrap_servers is empty", field="bootstrap_servers"
            )
        if not topic or not _TOPIC.fullmatch(topic):
            raise ConfigurationError(
                f"kafka destination: topic {topic!r} is not a legal Kafka topic name "
                "(1-249 of A-Z a-z 0-9 . _ -)",
                field="topic",
            )
        ok = isinstance(flush_timeout, int | float) and math.isfinite(flush_timeout)
        if not ok or flush_timeout <= 0:
            raise ConfigurationError(
                f"kafka destination: flush_timeout must be a positive number, "
                f"got {flush_timeout!r}",
                field="flush_timeout",
            )
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.flush_timeout = float(flush_timeout)
        self.name = f"kafka topic {topic} at {bootstrap_servers}"
        if producer is None:
            settings = {**(config or {}), "bootstrap.servers": bootstrap_servers}
            try:
                producer = _producer_class()(settings)
            except ConfigurationError:
                raise
            # librdkafka refuses unknown or invalid settings with KafkaException / ValueError.
            except Exception as e:
                raise ConfigurationError(
                    f"kafka destination: config refused by librdkafka: {e}", field="config"
                ) from e
        self._producer = producer

    def _failed(self, alert_id: int, err: Any) -> Outcome:
        """The outcome of a message librdkafka reports (or raises) ``err`` for."""
        code = err.name() if hasattr(err, "name") else type(err).__name__
        if code in _PURGED:
            text = f"not delivered within flush_timeout={self.flush_timeout:g} s (purged)"
        else:
            text = f"{code}: {err.str() if hasattr(err, 'str') else err}"
        retry = code not in PERMANENT_ERRORS
        error = f"{self.name}: {text}"
        return Outcome(alert_id, delivered=False, error=error, retry=retry)

    def _finish(self) -> None:
        """Wait for the reports; purge what is still queued after ``flush_timeout``."""
        remaining = self._producer.flush(self.flush_timeout)
        if remaining:
            log.warning(
                "%s: %d message(s) unacknowledged after %g s; purging them",
                self.name,
                remaining,
                self.flush_timeout,
            )
            self._producer.purge()
            # Serve the purge reports (they arrive through the callbacks).
            self._producer.flush(0)

    def _report(self, outcomes: dict[int, Outcome], index: int, alert_id: int) -> Callable:
        """The delivery callback of the message at ``index``."""

        def on_delivery(err: Any, msg: Any) -> None:
            if err is None:
                outcomes[index] = Outcome(alert_id, delivered=True)
            else:
                outcomes[index] = self._failed(alert_id, err)

        return on_delivery

    def _produce(self, alert: OutgoingAlert, callback: Callable) -> None:
        headers = [
            (KAFKA_ALERT_ID_HEADER, str(alert.alert_id).encode()),
            (KAFKA_SCHEMA_VERSION_HEADER, _schema_version(alert.sidecar).encode()),
        ]
        kwargs = {
            "value": alert.avro,
            "key": str(alert.alert_id).encode(),
            "headers": headers,
            "on_delivery": callback,
        }
        try:
            self._producer.produce(self.topic, **kwargs)
        except BufferError:
            # The local queue is full: serve delivery reports to make room, then once more.
            self._producer.poll(min(1.0, self.flush_timeout))
            self._producer.produce(self.topic, **kwargs)

    def send(self, alerts: Sequence[OutgoingAlert]) -> list[Outcome]:
        """Produce every alert and wait for the reports; one `Outcome` per alert, in order.

        Never raises for a broker's failure.

        Parameters
        ----------
        alerts : sequence of OutgoingAlert
            The alerts to produce.

        Returns
        -------
        list of Outcome
            Delivered (acknowledged by the broker), or failed with librdkafka's error
            (``retry=False`` for an error the same message meets again: too large, not
            authorised); messages not acknowledged within ``flush_timeout`` fail with
            ``retry=True``.
        """
        outcomes: dict[int, Outcome] = {}
        for i, alert in enumerate(alerts):
            try:
                self._produce(alert, self._report(outcomes, i, alert.alert_id))
            except BufferError:
                error = f"{self.name}: the producer's local queue is full"
                outcomes[i] = Outcome(alert.alert_id, delivered=False, error=error)
            # produce() raises KafkaException for a message it refuses outright (too large,
            # unknown topic); librdkafka's error code says whether it is worth retrying.
            except Exception as e:
                err = e.args[0] if e.args and hasattr(e.args[0], "name") else e
                outcomes[i] = self._failed(alert.alert_id, err)
        if alerts:
            try:
                self._finish()
            # A producer in a fatal state raises from flush/purge; the alerts it did not
            # report on fail below (retry=True: a new producer may do better).
            except Exception as e:
                log.warning("%s: flushing failed: %s", self.name, e)
        late = f"{self.name}: no delivery report within flush_timeout={self.flush_timeout:g} s"
        return [
            outcomes.get(i, Outcome(a.alert_id, delivered=False, error=late, retry=True))
            for i, a in enumerate(alerts)
        ]

    def close(self, timeout: float | None = None) -> None:
        """Flush what is queued (up to ``timeout``, default ``flush_timeout``) and close."""
        self._producer.flush(self.flush_timeout if timeout is None else timeout)
        close = getattr(self._producer, "close", None)
        if close is not None:
            close()

    def __repr__(self) -> str:
        return f"KafkaDestination({self.bootstrap_servers!r}, {self.topic!r})"
