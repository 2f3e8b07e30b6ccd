"""The reporter's database writes: few statements per interval, whatever the event rate.

Rows are upserted on their record coordinates, so writing the same batch twice (a retry after
a failed commit) does no harm. Models are looked up lazily: nothing imports them at startup.
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from ..runtime.process_identity import process_index

ORIGIN = ("share_group", "topic", "partition", "offset")
MIRRORED_MODELS = ("ConsumerProcess", "Lease", "DeadLetter", "ArchivedRecord")


def model(name: str):
    return apps.get_model("django_sharegroups", name)


def from_timestamp(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def register_process(share_groups: Sequence[str], threads: int, started_at: datetime) -> int:
    """Create this process's ConsumerProcess row; returns its primary key."""
    process = model("ConsumerProcess").objects.create(
        host=socket.gethostname(),
        pid=os.getpid(),
        process_index=process_index(),
        share_groups=sorted(share_groups),
        threads=threads,
        started_at=started_at,
        last_heartbeat=timezone.now(),
    )
    return process.pk


def heartbeat(process_pk: int, status: str) -> None:
    model("ConsumerProcess").objects.filter(pk=process_pk).update(
        last_heartbeat=timezone.now(), status=status
    )


def replace_leases(process_pk: int | None, leases: Iterable[tuple[str, Any]]) -> int:
    """Make the process's Lease rows equal to ``leases`` (``(share_group, Lease)`` pairs).

    One upsert for the current leases, one delete for the rows this snapshot did not touch.
    """
    lease_model = model("Lease")
    started = timezone.now()
    rows = {}
    for share_group, lease in leases:
        rows[(share_group, *lease.coordinates)] = lease_model(
            share_group=share_group,
            topic=lease.topic,
            partition=lease.partition,
            offset=lease.offset,
            delivery_count=lease.delivery_count,
            acquired_at=from_timestamp(lease.acquired_at),
            lock_deadline=from_timestamp(lease.deadline),
            consumer_thread=lease.holder,
            process_id=process_pk,
        )
    with transaction.atomic():
        if rows:
            lease_model.objects.bulk_create(
                list(rows.values()),
                update_conflicts=True,
                unique_fields=ORIGIN,
                update_fields=[
                    "delivery_count",
                    "acquired_at",
                    "lock_deadline",
                    "consumer_thread",
                    "process",
                    "mirrored_at",
                ],
            )
        lease_model.objects.filter(process_id=process_pk, mirrored_at__lt=started).delete()
    return len(rows)


def finish_process(process_pk: int, drop_leases: bool = True) -> None:
    """The process stopped cleanly: it holds nothing any more."""
    with transaction.atomic():
        if drop_leases:
            model("Lease").objects.filter(process_id=process_pk).delete()
        heartbeat(process_pk, "stopped")


def upsert_archived(events: Sequence[dict[str, Any]]) -> int:
    archived = model("ArchivedRecord")
    rows = _unique(
        archived(
            share_group=e["share_group"],
            topic=e["topic"],
            partition=e["partition"],
            offset=e["offset"],
            delivery_count=e["delivery_count"],
            reason=e["reason"],
            error=e.get("error") or "",
            archived_at=from_timestamp(e["at"]),
        )
        for e in events
    )
    archived.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=ORIGIN,
        update_fields=["delivery_count", "reason", "error", "archived_at"],
    )
    return len(rows)


def upsert_dead_letters(events: Sequence[dict[str, Any]], payload_limit: int) -> int:
    dead_letter = model("DeadLetter")
    rows = []
    for e in events:
        payload = e.get("payload")
        rows.append(
            dead_letter(
                share_group=e["share_group"],
                topic=e["topic"],
                partition=e["partition"],
                offset=e["offset"],
                key=e.get("key"),
                headers=encode_headers(e.get("headers") or ()),
                payload=None if payload is None else payload[:payload_limit],
                payload_size=0 if payload is None else len(payload),
                payload_truncated=payload is not None and len(payload) > payload_limit,
                delivery_count=e["delivery_count"],
                error_class=e.get("error_class") or "",
                error_message=e.get("error_message") or "",
                dlq_topic=e["dlq_topic"],
                dlq_partition=e.get("dlq_partition"),
                dlq_offset=e.get("dlq_offset"),
                dead_lettered_at=from_timestamp(e["at"]),
            )
        )
    rows = _unique(rows)
    dead_letter.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=ORIGIN,
        update_fields=[
            "key",
            "headers",
            "payload",
            "payload_size",
            "payload_truncated",
            "delivery_count",
            "error_class",
            "error_message",
            "dlq_topic",
            "dlq_partition",
            "dlq_offset",
            "dead_lettered_at",
            "source",  # a row the broker DLQ watcher wrote first becomes the client's
        ],
    )
    return len(rows)


def encode_headers(headers: Iterable[tuple[str, bytes | None]]) -> list[list[str | None]]:
    """Headers as JSON: ``[[name, base64 value or None], ...]`` (values are arbitrary bytes)."""
    return [
        [name, None if value is None else base64.b64encode(bytes(value)).decode("ascii")]
        for name, value in headers
    ]


def decode_headers(headers: Iterable[Sequence[Any]]) -> list[tuple[str, bytes | None]]:
    """The inverse of ``encode_headers``."""
    return [(name, None if value is None else base64.b64decode(value)) for name, value in headers]


def _unique(rows: Iterable[Any]) -> list[Any]:
    """One row per origin (the last wins): an upsert may not touch a row twice."""
    by_origin = {tuple(getattr(row, f) for f in ORIGIN): row for row in rows}
    return list(by_origin.values())
