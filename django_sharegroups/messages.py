"""What a consumer sees: ``Message`` (one record, deserialized) and ``Messages`` (one job).

A record that cannot be decoded never reaches user code: the engine acknowledges it per the
topic's ``on_deserialization_error``. To keep that promise cheaply, each part of a record is
decoded at most once, when the record is taken in, and only where its decoder can fail: a
``raw`` part (the default for key and headers) is never decoded at all, and the headers dict
is built on first access. ``json`` (the default for payloads) reads through msgspec, which
reads what ``json.loads`` reads or refuses it, a poll's values in one ``map``
(``json_payloads``), and through ``json.loads`` what msgspec refuses. A consumer that never
reads the payload declares ``deserializer="raw"`` and pays nothing (docs/routing.md,
"Deserialization"). ``None`` (a tombstone) stays ``None``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from .clients.base import ReceivedRecord
from .exceptions import DeserializationError

Deserializer = Callable[[bytes | None], Any]

#: msgspec's JSON reader: the same values as ``json.loads`` (integers of any length up to
#: ``sys.get_int_max_str_digits()``, correctly rounded floats, the last of repeated keys), at
#: about half the cost of orjson with the digit-run check it needed; it refuses what it reads
#: differently (``NaN``, ``1e400``, a byte order mark, a lone surrogate, other encodings).
_read_json = msgspec.json.Decoder().decode
#: ``_read_json`` refused the value or it was a tombstone: a ``DecodeError`` (``ValidationError``
#: is one), or the ``UnicodeDecodeError`` msgspec before 0.23 raised for the UTF-8 bytes of a
#: surrogate, which ``json.loads`` reads.
_REFUSED = (msgspec.DecodeError, ValueError, RecursionError, TypeError)
#: ``Message(record, payload)`` without a key: the record's raw key.
_RAW_KEY: Any = object()


def json_deserializer(raw: bytes | None) -> Any:
    """UTF-8 JSON, exactly as ``json.loads`` reads it: through msgspec (a quarter of the
    time), and through ``json.loads`` whatever msgspec refuses, which then reads it or says
    precisely what is wrong."""
    if raw is None:
        return None
    try:
        return _read_json(raw)
    except _REFUSED:
        return json.loads(raw)


def json_payloads(values: list[bytes | None]) -> list[Any] | None:
    """``json_deserializer`` of each value, for a poll's worth at once: msgspec over all of
    them in one ``map``. ``None`` for a poll with a tombstone or a value msgspec refuses:
    each value is then read on its own. 0.22 against 0.40 µs a 100-byte record for orjson
    with its digit-run check, in the same run."""
    try:
        return list(map(_read_json, values))  # type: ignore[arg-type]  # a None raises
    except _REFUSED:  # rare
        return None


def string_deserializer(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8")


def raw_deserializer(raw: bytes | None) -> bytes | None:
    """The bytes as they are; never called by the engine (a raw part costs nothing)."""
    return raw


#: The deserializers a route may name; the system checks and the engine both read this.
NAMED_DESERIALIZERS: dict[str, Deserializer] = {
    "json": json_deserializer,
    "string": string_deserializer,
    "raw": raw_deserializer,
}


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

    def messages(
        self, records: Iterable[ReceivedRecord], undecodable: list[tuple[ReceivedRecord, str]]
    ) -> list[Message]:
        """``message`` for each record, in one loop; the records that cannot be decoded go to
        ``undecodable`` with the ``DeserializationError``'s text instead."""
        messages: list[Message] = []
        append, decode = messages.append, self.payload
        if self.key is not raw_deserializer or self.headers is not raw_deserializer:
            for record in records:
                try:
                    append(self.message(record))
                except DeserializationError as exc:
                    undecodable.append((record, str(exc)))
        elif decode is raw_deserializer:
            messages.extend(Message(record, record.value) for record in records)
        else:  # the usual case: only the payload is decoded
            records = list(records)
            if decode is json_deserializer:
                payloads = json_payloads([record.value for record in records])
                if payloads is not None:
                    return list(map(Message, records, payloads))
            for record in records:
                try:
                    payload = decode(record.value)
                except Exception as exc:
                    undecodable.append((record, str(_error(record, "payload", exc))))
                    continue
                append(Message(record, payload))
        return messages

    def message(self, record: ReceivedRecord) -> Message:
        """The record as a ``Message``, its fallible parts decoded once; raises
        ``DeserializationError`` (naming the record and the part) when one cannot be."""
        part = "payload"
        try:
            decode = self.payload
            payload = record.value if decode is raw_deserializer else decode(record.value)
            part = "key"
            decode = self.key
            key = record.key if decode is raw_deserializer else decode(record.key)
            part = "headers"
            decode = self.headers
            headers = (
                None
                if decode is raw_deserializer
                else {name: decode(value) for name, value in record.headers}
            )
        except Exception as exc:
            raise _error(record, part, exc) from exc
        return Message(record, payload, key, headers)


def _error(record: ReceivedRecord, part: str, exc: Exception) -> DeserializationError:
    return DeserializationError(
        f"{record.topic}[{record.partition}]@{record.offset} {part}: {type(exc).__name__}: {exc}"
    )


class Message:
    """One acquired record. Partition and offset are per message: a job may span partitions.

    ``payload`` and ``key`` are decoded by the topic's deserializers; ``coordinates`` is
    ``(topic, partition, offset)``. The engine tracks the message by its ``record``.
    """

    __slots__ = ("record", "payload", "_key", "_headers")

    def __init__(
        self,
        record: ReceivedRecord,
        payload: Any,
        key: Any = _RAW_KEY,
        headers: dict[str, Any] | None = None,
    ) -> None:
        self.record = record
        self.payload = payload
        self._key = key
        self._headers = headers

    @classmethod
    def deserialize(
        cls, record: ReceivedRecord, deserializers: Deserializers | Deserializer
    ) -> Message:
        """Decode ``record`` with a topic's ``Deserializers`` (or one payload decoder)."""
        if not isinstance(deserializers, Deserializers):
            deserializers = Deserializers(payload=deserializers)
        return deserializers.message(record)

    @property
    def key(self) -> Any:
        """The key decoded by the topic's ``key_deserializer`` (raw bytes by default; read
        from the record when asked: most consumers never read it)."""
        key = self._key
        return self.record.key if key is _RAW_KEY else key

    @property
    def headers(self) -> dict[str, Any]:
        """Header values decoded by the topic's ``headers_deserializer``; the last value wins
        for repeated names (see ``raw_headers`` for all of them). Built on first access."""
        if self._headers is None:
            self._headers = dict(self.record.headers)
        return self._headers

    @property
    def coordinates(self) -> tuple[str, int, int]:
        return self.record.coordinates

    @property
    def topic(self) -> str:
        return self.record.topic

    @property
    def partition(self) -> int:
        return self.record.partition

    @property
    def offset(self) -> int:
        return self.record.offset

    @property
    def raw_key(self) -> bytes | None:
        return self.record.key

    @property
    def raw_payload(self) -> bytes | None:
        return self.record.value

    @property
    def delivery_count(self) -> int:
        return self.record.delivery_count

    @property
    def raw_headers(self) -> Sequence[tuple[str, bytes | None]]:
        return self.record.headers

    @property
    def timestamp(self) -> datetime | None:
        ms = self.record.timestamp_ms
        return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)

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
    processed_at: datetime | None = None,
) -> BatchMetadata:
    now = processed_at or datetime.now(tz=UTC)
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


_new_list, _extend = list.__new__, list.extend


class Messages(list[Message]):
    """The messages of one job, all from one topic (possibly several partitions).

    ``metadata`` is given, or described (``polled_at``, ``partition_scoped``; ``processed_at``
    is when the Messages were made) and built on first read: most jobs never read it, and
    building it cost a one-record job a tenth of its time."""

    __slots__ = ("topic", "_metadata", "_described")

    def __init__(
        self,
        messages: Iterable[Message] = (),
        *,
        topic: str | None = None,
        metadata: BatchMetadata | None = None,
        polled_at: datetime | None = None,
        partition_scoped: bool = False,
    ) -> None:
        super().__init__(messages)
        self.topic = topic if topic is not None else (self[0].topic if self else None)
        self._metadata = metadata
        self._described: tuple[datetime, bool, float] | None = None
        if metadata is None and polled_at is not None:
            self._described = (polled_at, partition_scoped, time.time())

    @classmethod
    def of_job(
        cls, messages: list[Message], topic: str, polled_at: datetime, scoped: bool
    ) -> Messages:
        """``Messages(messages, topic=..., polled_at=..., partition_scoped=...)`` for the
        engine, once per job: a third of the cost (a list subclass's own ``__init__`` called
        with keywords took a one-record job a tenth of its time)."""
        batch = _new_list(cls)
        _extend(batch, messages)
        batch.topic = topic
        batch._metadata = None
        batch._described = (polled_at, scoped, time.time())
        return batch

    @property
    def metadata(self) -> BatchMetadata | None:
        described = self._described
        if self._metadata is None and described is not None:
            polled_at, scoped, made = described
            processed_at = datetime.fromtimestamp(made, tz=UTC)
            self._metadata = build_metadata(self, self.topic, polled_at, scoped, processed_at)
        return self._metadata

    def only(self, messages: Iterable[Message]) -> Messages:
        """Some of these messages as a job of their own, described the same way."""
        subset = Messages(messages, topic=self.topic)
        if self._described is not None:
            subset._described = self._described
        elif self._metadata is not None and subset:
            metadata = self._metadata
            subset._metadata = build_metadata(
                subset, self.topic, metadata.created_at, metadata.partition is not None
            )
        return subset
