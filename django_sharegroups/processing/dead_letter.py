"""Client-side dead-letter queue: copy a failed record to the DLQ topic, then REJECT it.

The copy keeps key, payload and headers, and adds headers that say where it came from and
why. The original is REJECTed only after the DLQ topic has stored the copy; if producing fails
the original is RELEASEd instead, so a record is never lost.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ..clients.base import RecordProducer
from ..messages import Message

HEADER_PREFIX = "sharegroups.dlq."

Headers = list[tuple[str, bytes | None]]


def replace_headers(headers: Sequence[tuple[str, bytes | None]], new: Headers) -> Headers:
    """``headers`` with those named in ``new`` replaced by ``new`` (e.g. a fresher
    ``traceparent``)."""
    names = {name for name, _ in new}
    return [*[(k, v) for k, v in headers if k not in names], *new]


def dead_letter_headers(
    message: Message, share_group: str, error: BaseException | str | None
) -> list[tuple[str, bytes | None]]:
    if isinstance(error, BaseException):
        error_class, error_message = type(error).__qualname__, str(error)
    else:
        error_class, error_message = ("", error or "")
    origin = {
        "share-group": share_group,
        "topic": message.topic,
        "partition": str(message.partition),
        "offset": str(message.offset),
        "delivery-count": str(message.delivery_count),
        "error-class": error_class,
        "error-message": error_message[:4096],
        "dead-lettered-at": str(int(time.time() * 1000)),
    }
    headers: list[tuple[str, bytes | None]] = [
        (HEADER_PREFIX + name, value.encode()) for name, value in origin.items()
    ]
    headers.append((HEADER_PREFIX + "key", message.raw_key))
    return [*message.raw_headers, *headers]


def dispatch(
    producer: RecordProducer,
    dlq_topic: str,
    message: Message,
    share_group: str,
    error: BaseException | str | None,
    trace_headers: Headers | None = None,
) -> tuple[int, int]:
    """Store the copy in ``dlq_topic``; ``(partition, offset)`` or ``ProduceError``.
    ``trace_headers`` (tracing on): the job span's context, in place of the record's."""
    headers = dead_letter_headers(message, share_group, error)
    if trace_headers:
        headers = replace_headers(headers, trace_headers)
    return producer.produce(dlq_topic, message.raw_payload, key=message.raw_key, headers=headers)
