"""A broker DLQ record as a DeadLetter row: the broker's ``__dlq.errors.*`` headers name the
origin and the reason (Kafka 4.4 writes topic, partition, offset, group, delivery.count and
message, e.g. "Offset delivery count exceeded the threshold.")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.apps import apps

from ..mirroring.writers import encode_headers

HEADER_PREFIX = "__dlq.errors."


def origin_headers(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """``{"topic": ..., "partition": ..., "message": ...}`` from the broker's headers."""
    found = {}
    for name, value in headers or ():
        if name.startswith(HEADER_PREFIX) and value is not None:
            found[name[len(HEADER_PREFIX) :]] = bytes(value).decode("utf-8", "replace")
    return found


def dead_letter_row(record: Any, payload_limit: int):
    """A DeadLetter (unsaved) for a ``confluent_kafka.Message`` read from a broker DLQ topic,
    or None when the record lacks the broker's origin headers (not written by the broker)."""
    headers = record.headers() or []
    origin = origin_headers(headers)
    if not {"topic", "partition", "offset", "group"} <= origin.keys():
        return None
    payload = record.value()
    _, timestamp_ms = record.timestamp()
    at = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC) if timestamp_ms > 0 else None
    model = apps.get_model("django_sharegroups", "DeadLetter")
    return model(
        share_group=origin["group"],
        topic=origin["topic"],
        partition=int(origin["partition"]),
        offset=int(origin["offset"]),
        key=record.key(),
        headers=encode_headers([(n, v) for n, v in headers if not n.startswith(HEADER_PREFIX)]),
        payload=None if payload is None else payload[:payload_limit],
        payload_size=0 if payload is None else len(payload),
        payload_truncated=payload is not None and len(payload) > payload_limit,
        delivery_count=int(origin.get("delivery.count") or 0),
        error_class="",
        error_message=origin.get("message", ""),
        dlq_topic=record.topic(),
        dlq_partition=record.partition(),
        dlq_offset=record.offset(),
        dead_lettered_at=at or datetime.now(tz=UTC),
        source=model.Source.BROKER,
    )


def save_rows(rows: Sequence[Any]) -> int:
    """Insert rows for records not mirrored yet. A row the client-side DLQ wrote for the same
    record (it REJECTs, so the broker DLQ gets it too) keeps its error class; a duplicate DLQ
    record (the broker's write is not atomic with the archive) is ignored."""
    if not rows:
        return 0
    model = type(rows[0])
    model.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
