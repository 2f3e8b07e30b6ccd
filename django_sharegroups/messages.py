"""What a consumer sees: ``Message`` (one record, deserialized) and ``Messages`` (one job).

Payloads are deserialized before ``consume`` runs, so a record that cannot be decoded never
reaches user code: the engine acknowledges it per the topic's ``on_deserialization_error``.
The default deserializer is JSON (UTF-8); ``None`` (a tombstone) stays ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from .clients.base import ReceivedRecord


class DeserializationError(ValueError):
    """A record's payload could not be decoded by the topic's deserializer."""


def json_deserializer(raw: bytes | None) -> Any:
    return None if raw is None else json.loads(raw)


def string_deserializer(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8")


def raw_deserializer(raw: bytes | None) -> bytes | None:
    return raw


NAMED_DESERIALIZERS: dict[str, Callable[[bytes | None], Any]] = {
    "json": json_deserializer,
    "string": string_deserializer,
    "raw": raw_deserializer,
}


def resolve_deserializer(
    spec: str | Callable[[bytes | None], Any],
) -> Callable[[bytes | None], Any]:
    if callable(spec):
        return spec
    return NAMED_DESERIALIZERS[spec]


class Message:
    """One acquired record. Partition and offset are per message: a job may span partitions."""

    __slots__ = ("record", "payload")

    def __init__(self, record: ReceivedRecord, payload: Any) -> None:
        self.record = record
        self.payload = payload

    @classmethod
    def deserialize(cls, record: ReceivedRecord, deserializer: Callable[[bytes | None], Any]):
        try:
            payload = deserializer(record.value)
        except Exception as exc:
            raise DeserializationError(
                f"{record.topic}[{record.partition}]@{record.offset}: {type(exc).__name__}: {exc}"
            ) from exc
        return cls(record, payload)

    topic = property(lambda self: self.record.topic)
    partition = property(lambda self: self.record.partition)
    offset = property(lambda self: self.record.offset)
    key = property(lambda self: self.record.key)
    raw_payload = property(lambda self: self.record.value)
    delivery_count = property(lambda self: self.record.delivery_count)

    @property
    def headers(self) -> dict[str, bytes | None]:
        """Headers as a dict (the last value wins for repeated names); see ``raw_headers``."""
        return dict(self.record.headers)

    @property
    def raw_headers(self) -> Sequence[tuple[str, bytes | None]]:
        return self.record.headers

    @property
    def timestamp(self) -> datetime | None:
        ms = self.record.timestamp_ms
        return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)

    @property
    def coordinates(self) -> tuple[str, int, int]:
        return (self.topic, self.partition, self.offset)

    def __repr__(self) -> str:
        return (
            f"<Message {self.topic}[{self.partition}]@{self.offset} "
            f"delivery_count={self.delivery_count}>"
        )


class Messages(list):
    """The messages of one job, all from one topic (possibly several partitions)."""

    def __init__(self, messages: Iterable[Message] = (), *, topic: str | None = None) -> None:
        super().__init__(messages)
        self.topic = topic if topic is not None else (self[0].topic if self else None)
