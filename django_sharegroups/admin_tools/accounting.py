"""``sharegroups audit GROUP``: account for every record of a share group after an incident.

Per partition, every record from the log start (or ``--from-offset``) to the log end is looked
up in the database: a ``ProcessedRecord`` row (accepted by an idempotent consumer), a
``DeadLetter`` row (client- or broker-side DLQ) or an ``ArchivedRecord`` row with its reason.
Below the SPSO the broker has settled every record (acknowledged or archived), so a record
there without a row is *unaccounted*: accepted by a consumer that keeps no ``ProcessedRecord``
rows, or lost. From the SPSO on, a record without a row is *pending* (available, in flight, or
acknowledged ahead of the SPSO); the broker's lag and the mirrored leases say how many.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps

from ..kafka import ShareGroupAdmin, TopicPartition
from ..kafka.protocol.messages.offsets import EARLIEST_TIMESTAMP

#: Unaccounted offsets listed per partition (the count is always complete).
SHOWN_OFFSETS = 20


@dataclass
class PartitionAccount:
    topic: str
    partition: int
    first_offset: int
    spso: int | None
    log_end_offset: int | None
    lag: int | None
    accepted: int = 0
    dead_lettered: int = 0
    archived: Counter = field(default_factory=Counter)
    unaccounted: list[int] = field(default_factory=list)
    #: From the SPSO on, without a row: available, in flight, or settled out of order.
    pending: int = 0
    in_flight: int = 0

    @property
    def settled(self) -> int:
        return max(0, (self.spso or self.first_offset) - self.first_offset)

    def data(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "first_offset": self.first_offset,
            "spso": self.spso,
            "log_end_offset": self.log_end_offset,
            "lag": self.lag,
            "in_flight": self.in_flight,
            "settled": self.settled,
            "accepted": self.accepted,
            "dead_lettered": self.dead_lettered,
            "archived": dict(self.archived),
            "unaccounted": len(self.unaccounted),
            "unaccounted_offsets": self.unaccounted[:SHOWN_OFFSETS],
            "pending": self.pending,
        }


def _offsets(model_name: str, group: str, topic: str, partition: int, low: int, high: int):
    model = apps.get_model("django_sharegroups", model_name)
    return model.objects.filter(
        share_group=group, topic=topic, partition=partition, offset__gte=low, offset__lt=high
    )


def account(
    admin: ShareGroupAdmin, group: str, *, from_offset: int | None = None
) -> list[PartitionAccount]:
    """Reconcile the broker's view of ``group`` with the mirrored and processed rows."""
    offsets = admin.share_group_offsets(group)
    starts = admin.list_offsets(
        [(o.topic, o.partition) for o in offsets], EARLIEST_TIMESTAMP, skip_unknown=True
    )
    accounts = []
    for entry in offsets:
        log_start = starts.get(TopicPartition(entry.topic, entry.partition), 0)
        first = max(log_start, from_offset or 0)
        result = PartitionAccount(
            entry.topic, entry.partition, first, entry.start_offset, entry.log_end_offset, entry.lag
        )
        spso = entry.start_offset if entry.start_offset is not None else first
        end = max(spso, entry.log_end_offset if entry.log_end_offset is not None else spso)
        where = (group, entry.topic, entry.partition)
        accepted = set(
            _offsets("ProcessedRecord", *where, first, end).values_list("offset", flat=True)
        )
        dead = set(_offsets("DeadLetter", *where, first, end).values_list("offset", flat=True))
        archived = dict(
            _offsets("ArchivedRecord", *where, first, end).values_list("offset", "reason")
        )
        for offset in range(first, end):
            if offset in accepted:
                result.accepted += 1
            elif offset in dead:
                result.dead_lettered += 1
            elif offset in archived:
                result.archived[archived[offset]] += 1
            elif offset < spso:
                result.unaccounted.append(offset)
            else:
                result.pending += 1
        result.in_flight = _offsets("Lease", *where, spso, end).count()
        accounts.append(result)
    return sorted(accounts, key=lambda a: (a.topic, a.partition))


def totals(accounts: list[PartitionAccount]) -> dict[str, Any]:
    archived: Counter = Counter()
    for item in accounts:
        archived.update(item.archived)
    return {
        "settled": sum(a.settled for a in accounts),
        "accepted": sum(a.accepted for a in accounts),
        "dead_lettered": sum(a.dead_lettered for a in accounts),
        "archived": dict(archived),
        "unaccounted": sum(len(a.unaccounted) for a in accounts),
        "pending": sum(a.pending for a in accounts),
        "lag": sum(a.lag or 0 for a in accounts),
        "in_flight": sum(a.in_flight for a in accounts),
    }
