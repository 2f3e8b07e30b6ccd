"""Leases: the records a consumer instance holds, each until its acquisition lock runs out.

The broker starts a record's lock when it acquires the record; we stamp the lease when the poll
returns, which is no earlier, so a lease we think has lapsed really has. Records of one poll
share one :class:`LeaseBatch` (acquired together, same deadline), so holding a record costs
one dict entry, not an object; a RENEW moves the renewed records to a batch of their own. There
is no index from record to batch: an instance holds a few batches (one per poll it has not
settled, plus renewals), so a lookup asks each, and a job's records, settled together, leave
their batch in one C loop. Building and emptying an index had been 15 % of the owner thread's
time on a backlog (py-spy). Leases
are keyed by the ``ReceivedRecord`` (one per delivery, hashed by identity): a record the
broker delivers again while an earlier delivery is still held is a lease of its own. A job
never starts on a lapsed lease (the broker may already have given the record to another member)
and ``lock_expired`` tells the consumer about leases that ran out before their job ended.

Only the owner thread changes a tracker; other threads (workers, the mirroring reporter) read
it through single list and dict operations, which the GIL makes atomic, so no lock is taken per
record. A renewal adds a record to its new batch before it leaves the old one, so a reader
always finds a held record in one of them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

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
        #: In acquisition order; the owner drops emptied ones when it next acquires.
        self._batches: list[LeaseBatch] = []

    def acquired(
        self, records: Iterable[ReceivedRecord], lock_duration_ms: int | None, at: float
    ) -> LeaseBatch:
        batch = LeaseBatch(at, None if lock_duration_ms is None else at + lock_duration_ms / 1000)
        batch.records = dict.fromkeys(records)
        self._batches = [*self.batches(), batch]
        return batch

    def _batch(self, record: ReceivedRecord) -> LeaseBatch | None:
        """The batch holding ``record`` (any thread: it asks a snapshot of the list)."""
        for batch in self._batches:
            if record in batch.records:
                return batch
        return None

    def renewed(self, records: Iterable[ReceivedRecord], lock_duration_ms: int, at: float) -> None:
        batch = LeaseBatch(at, at + lock_duration_ms / 1000)
        self._batches = [*self._batches, batch]
        for record in records:
            old = self._batch(record)
            if old is None or old is batch:
                continue
            batch.records[record] = None
            del old.records[record]
            batch.acquired_at = min(batch.acquired_at, old.acquired_at)

    def settled(self, record: ReceivedRecord) -> None:
        batch = self._batch(record)
        if batch is not None:
            batch.records.pop(record, None)

    def settled_all(self, records: Iterable[ReceivedRecord]) -> None:
        """``settled`` for each record. A job's records usually share one batch: then they
        leave it in a C loop, without a Python step per record."""
        records = list(records)
        first = self._batch(records[0]) if records else None
        if first is not None:
            try:
                deque(map(first.records.pop, records), maxlen=0)
                return
            except KeyError:  # some were in another batch (renewed), or not held: one by one
                pass
        for record in records:
            self.settled(record)

    def deadline(self, record: ReceivedRecord) -> float | None:
        batch = self._batch(record)
        return None if batch is None else batch.deadline

    def lapsed(self, record: ReceivedRecord, now: float | None = None) -> bool:
        """Whether ``record`` is held and its lock ran out by ``now``."""
        deadline = self.deadline(record)
        return deadline is not None and (now or time.time()) >= deadline

    def holds(self, record: ReceivedRecord) -> bool:
        return self._batch(record) is not None

    def batches(self) -> list[LeaseBatch]:
        """The distinct batches still holding records (owner thread)."""
        self._batches = [batch for batch in self._batches if batch.records]
        return self._batches

    def get(self, record: ReceivedRecord) -> Lease | None:
        batch = self._batch(record)
        return None if batch is None else self._lease(record, batch)

    @property
    def held_records(self) -> list[ReceivedRecord]:
        """The records held now, without building a :class:`Lease` each (the metrics' lease
        gauge counts them per delivery count at every scrape)."""
        return [record for batch in self._batches for record in list(batch.records)]

    def oldest_leases(self) -> Iterator[Lease]:
        """The leases held now, oldest first, built as they are taken (any thread: it walks
        a copy of each batch, so a caller that stops early pays only for what it took)."""
        for batch in self._batches:
            for record in list(batch.records):
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
        return sum(len(batch.records) for batch in self._batches)
