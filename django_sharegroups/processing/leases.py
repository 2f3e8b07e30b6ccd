"""Leases: the records a consumer instance holds, each until its acquisition lock runs out.

The broker starts a record's lock when it acquires the record; we stamp the lease when the poll
returns, which is no earlier, so a lease we think has lapsed really has. Records of one poll
share one :class:`LeaseBatch` (acquired together, same deadline), so holding a record costs a
dict entry, not an object; a RENEW moves the renewed records to a batch of their own. Leases
are keyed by the ``ReceivedRecord`` (one per delivery, hashed by identity): a record the
broker delivers again while an earlier delivery is still held is a lease of its own. A job
never starts on a lapsed lease (the broker may already have given the record to another member)
and ``lock_expired`` tells the consumer about leases that ran out before their acknowledgement.

Only the owner thread changes a tracker; other threads (workers, the mirroring reporter) read
it through single dict operations, which the GIL makes atomic, so no lock is taken per record.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import repeat

from ..clients.base import ReceivedRecord

#: Where a record is: ``(topic, partition, offset)``.
Coordinates = tuple[str, int, int]


class LeaseBatch:
    """Records acquired (or renewed) together."""

    __slots__ = ("acquired_at", "deadline", "records")

    def __init__(self, acquired_at: float, deadline: float | None) -> None:
        #: ``time.time()`` values, so they can be shown and mirrored as datetimes.
        self.acquired_at = acquired_at
        self.deadline = deadline
        #: The records, in acquisition order (a dict: ordered, and a pointer hash each).
        self.records: dict[ReceivedRecord, None] = {}


@dataclass(frozen=True, slots=True)
class Lease:
    """A read-only view of one held record (built on demand, e.g. for the mirroring)."""

    topic: str
    partition: int
    offset: int
    delivery_count: int
    acquired_at: float
    deadline: float | None
    holder: str
    record: ReceivedRecord | None = field(default=None, compare=False, repr=False)

    @property
    def coordinates(self) -> Coordinates:
        return (self.topic, self.partition, self.offset)

    def lapsed(self, now: float | None = None) -> bool:
        return self.deadline is not None and (now or time.time()) >= self.deadline


class LeaseTracker:
    """The leases of one consumer instance."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        self._batch_of: dict[ReceivedRecord, LeaseBatch] = {}
        self._batches: list[LeaseBatch] = []

    def acquired(
        self, records: Iterable[ReceivedRecord], lock_duration_ms: int | None, at: float
    ) -> LeaseBatch:
        batch = LeaseBatch(at, None if lock_duration_ms is None else at + lock_duration_ms / 1000)
        batch.records = held = dict.fromkeys(records)
        self._batch_of.update(dict.fromkeys(held, batch))
        self._batches.append(batch)
        return batch

    def renewed(self, records: Iterable[ReceivedRecord], lock_duration_ms: int, at: float) -> None:
        batch = LeaseBatch(at, at + lock_duration_ms / 1000)
        for record in records:
            old = self._batch_of.get(record)
            if old is None:
                continue
            del old.records[record]
            batch.records[record] = None
            batch.acquired_at = min(batch.acquired_at, old.acquired_at)
            self._batch_of[record] = batch
        self._batches.append(batch)

    def settled(self, record: ReceivedRecord) -> None:
        batch = self._batch_of.pop(record, None)
        if batch is not None:
            batch.records.pop(record, None)

    def settled_all(self, records: Iterable[ReceivedRecord]) -> None:
        """``settled`` for each record. A job's records usually share one batch: then both
        dicts drop them in C loops, without a Python step per record."""
        records = list(records)
        batches = list(map(self._batch_of.pop, records, repeat(None)))
        first = batches[0] if batches else None
        if first is not None and batches.count(first) == len(batches):
            deque(map(first.records.pop, records), maxlen=0)
            return
        for record, batch in zip(records, batches, strict=True):
            if batch is not None:
                batch.records.pop(record, None)

    def deadline(self, record: ReceivedRecord) -> float | None:
        batch = self._batch_of.get(record)
        return None if batch is None else batch.deadline

    def lapsed(self, record: ReceivedRecord, now: float | None = None) -> bool:
        """Whether ``record`` is held and its lock ran out by ``now``."""
        deadline = self.deadline(record)
        return deadline is not None and (now or time.time()) >= deadline

    def holds(self, record: ReceivedRecord) -> bool:
        return record in self._batch_of

    def batches(self) -> list[LeaseBatch]:
        """The distinct batches still holding records (owner thread)."""
        self._batches = [batch for batch in self._batches if batch.records]
        return self._batches

    def get(self, record: ReceivedRecord) -> Lease | None:
        batch = self._batch_of.get(record)
        return None if batch is None else self._lease(record, batch)

    @property
    def held_records(self) -> list[ReceivedRecord]:
        """The records held now, without building a :class:`Lease` each (the metrics' lease
        gauge counts them per delivery count at every scrape)."""
        return list(self._batch_of)

    def oldest_leases(self) -> Iterator[Lease]:
        """The leases held now, oldest first, built as they are taken (any thread: it walks
        a copy of the index, so a caller that stops early pays only for what it took)."""
        for record, batch in list(self._batch_of.items()):
            yield self._lease(record, batch)

    def _lease(self, record: ReceivedRecord, batch: LeaseBatch) -> Lease:
        return Lease(
            record.topic,
            record.partition,
            record.offset,
            record.delivery_count,
            batch.acquired_at,
            batch.deadline,
            self.holder,
            record,
        )

    def __len__(self) -> int:
        return len(self._batch_of)
