"""An in-memory stand-in for confluent_kafka.Consumer: messages in, polls and commits out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeError:
    """A confluent_kafka.KafkaError's surface: ``name()``, ``fatal()``, ``str()``."""

    code: str
    is_fatal: bool = False

    def name(self) -> str:
        return self.code

    def fatal(self) -> bool:
        return self.is_fatal

    def __str__(self) -> str:
        return f"{self.code} (fake)"


@dataclass
class FakeMessage:
    """A confluent_kafka.Message's surface."""

    payload: bytes | None
    where: tuple[str, int, int] = ("alerts", 0, 0)
    problem: FakeError | None = None

    def value(self) -> bytes | None:
        return self.payload

    def topic(self) -> str:
        return self.where[0]

    def partition(self) -> int:
        return self.where[1]

    def offset(self) -> int:
        return self.where[2]

    def error(self) -> FakeError | None:
        return self.problem


@dataclass
class FakeConsumer:
    """Polls hand out ``script`` in order (None: a poll with nothing), then nothing."""

    script: list[FakeMessage | None]
    subscribed: list[str] = field(default_factory=list)
    commits: list[list[tuple[str, int, int]]] = field(default_factory=list)
    polls: int = 0
    closed: bool = False
    refuse_commit: bool = False

    @classmethod
    def of(cls, values: Sequence[bytes | None], topic: str = "alerts") -> FakeConsumer:
        """One partition, one message per value, offsets from 0."""
        return cls([FakeMessage(v, (topic, 0, i)) for i, v in enumerate(values)])

    def subscribe(self, topics: list[str]) -> None:
        self.subscribed = list(topics)

    def poll(self, timeout: float) -> FakeMessage | None:
        self.polls += 1
        return self.script.pop(0) if self.script else None

    def commit(self, *, offsets: list[Any], asynchronous: bool) -> None:
        assert asynchronous is False
        if self.refuse_commit:
            raise RuntimeError("commit refused (fake)")
        self.commits.append([(o.topic, o.partition, o.offset) for o in offsets])

    def close(self) -> None:
        self.closed = True
