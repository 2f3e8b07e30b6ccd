"""What a consumer sees: ``Message`` (one record, deserialized) and ``Messages`` (one job).

Payloads are deserialized before ``consume`` runs, so a record that cannot be decoded never
reaches user code: the engine acknowledges it per the topic's ``on_deserialization_error``.
The default deserializer is JSON (UTF-8); ``None`` (a tombstone) stays ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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


Deserializer = Callable[[bytes | None], Any]


def resolve_deserializer(spec: str | Deserializer) -> Deserializer:
    if callable(spec):
        return spec
    return NAMED_DESERIALIZERS[spec]


@dataclass(frozen=True, slots=True)
class Deserializers:
    """A topic's decoders for the payload, the key and each header value."""

    payload: Deserializer = json_deserializer
    key: Deserializer = raw_deserializer
    headers: Deserializer = raw_deserializer

    @classmethod
    def for_topic(cls, route) -> Deserializers:
        return cls(
            resolve_deserializer(route.deserializer),
            resolve_deserializer(route.key_deserializer),
            resolve_deserializer(route.headers_deserializer),
        )


class Message:
    """One acquired record. Partition and offset are per message: a job may span partitions."""

    __slots__ = ("record", "payload", "key", "headers")

    def __init__(self, record: ReceivedRecord, payload: Any, key: Any = None, headers=None) -> None:
        self.record = record
        self.payload = payload
        self.key = record.key if key is None else key
        #: Header values decoded by the topic's ``headers_deserializer``; the last value wins
        #: for repeated names (see ``raw_headers`` for all of them).
        self.headers: dict[str, Any] = dict(record.headers) if headers is None else headers

    @classmethod
    def deserialize(
        cls, record: ReceivedRecord, deserializers: Deserializers | Deserializer
    ) -> Message:
        if not isinstance(deserializers, Deserializers):
            deserializers = Deserializers(payload=deserializers)
        part = "payload"
        try:
            payload = deserializers.payload(record.value)
            part = "key"
            key = deserializers.key(record.key)
            part = "headers"
            headers = {name: deserializers.headers(value) for name, value in record.headers}
        except Exception as exc:
            raise DeserializationError(
                f"{record.topic}[{record.partition}]@{record.offset} {part}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return cls(record, payload, key, headers)

    topic = property(lambda self: self.record.topic)
    partition = property(lambda self: self.record.partition)
    offset = property(lambda self: self.record.offset)
    raw_key = property(lambda self: self.record.key)
    raw_payload = property(lambda self: self.record.value)
    delivery_count = property(lambda self: self.record.delivery_count)

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


@dataclass(frozen=True, slots=True)
class BatchMetadata:
    """Facts about one job. Share-group jobs may span partitions, so ``partition`` and the
    offsets are only set under the partition-scoped ``per_partition`` builder."""

    size: int
    topic: str | None
    #: When the records were polled (acquired) and when ``consume`` started.
    created_at: datetime
    processed_at: datetime
    #: Milliseconds from the oldest record's timestamp to the poll (how far behind we are).
    consumption_lag_ms: int | None
    #: Milliseconds from the poll to the start of ``consume`` (time spent waiting for a worker).
    processing_lag_ms: int
    partition: int | None = None
    first_offset: int | None = None
    last_offset: int | None = None


def build_metadata(
    messages: Sequence[Message],
    topic: str | None,
    polled_at: datetime,
    partition_scoped: bool = False,
) -> BatchMetadata:
    now = datetime.now(tz=UTC)
    stamps = [m.record.timestamp_ms for m in messages if m.record.timestamp_ms is not None]
    polled_ms = polled_at.timestamp() * 1000
    scoped = partition_scoped and messages
    return BatchMetadata(
        size=len(messages),
        topic=topic,
        created_at=polled_at,
        processed_at=now,
        consumption_lag_ms=max(0, int(polled_ms - min(stamps))) if stamps else None,
        processing_lag_ms=max(0, int((now - polled_at).total_seconds() * 1000)),
        partition=messages[0].partition if scoped else None,
        first_offset=min(m.offset for m in messages) if scoped else None,
        last_offset=max(m.offset for m in messages) if scoped else None,
    )


class Messages(list):
    """The messages of one job, all from one topic (possibly several partitions)."""

    def __init__(
        self,
        messages: Iterable[Message] = (),
        *,
        topic: str | None = None,
        metadata: BatchMetadata | None = None,
    ) -> None:
        super().__init__(messages)
        self.topic = topic if topic is not None else (self[0].topic if self else None)
        self.metadata = metadata
