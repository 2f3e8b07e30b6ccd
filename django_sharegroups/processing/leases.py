"""Leases: the records a consumer instance holds, each until its acquisition lock runs out.

The broker starts a record's lock when it acquires the record; we stamp the lease when the poll
returns, which is no earlier, so a lease we think has lapsed really has. Records of one poll
share one :class:`LeaseBatch` (acquired together, same deadline), so holding a record costs a
dict entry, not an object; a RENEW moves the renewed records to a batch of their own. A job
never starts on a lapsed lease (the broker may already have given the record to another member)
and ``lock_expired`` tells the consumer about leases that ran out before their acknowledgement.

Only the owner thread changes a tracker; other threads (workers, the mirroring reporter) read
it through single dict operations, which the GIL makes atomic, so no lock is taken per record.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ..clients.base import ReceivedRecord

Coordinates = tuple[str, int, int]


class LeaseBatch:
    """Records acquired (or renewed) together."""

    __slots__ = ("acquired_at", "deadline", "records")

    def __init__(self, acquired_at: float, deadline: float | None) -> None:
        #: ``time.time()`` values, so they can be shown and mirrored as datetimes.
        self.acquired_at = acquired_at
        self.deadline = deadline
        self.records: dict[Coordinates, ReceivedRecord] = {}


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
        self._batch_of: dict[Coordinates, LeaseBatch] = {}
        self._batches: list[LeaseBatch] = []

    def acquired(
        self, records: Iterable[ReceivedRecord], lock_duration_ms: int | None, at: float
    ) -> LeaseBatch:
        batch = LeaseBatch(at, None if lock_duration_ms is None else at + lock_duration_ms / 1000)
        held = batch.records
        held.update({record.coordinates: record for record in records})
        self._batch_of.update(dict.fromkeys(held, batch))
        self._batches.append(batch)
        return batch

    def renewed(self, keys: Iterable[Coordinates], lock_duration_ms: int, at: float) -> None:
        batch = LeaseBatch(at, at + lock_duration_ms / 1000)
        for key in keys:
            old = self._batch_of.get(key)
            if old is None:
                continue
            batch.records[key] = old.records.pop(key)
            batch.acquired_at = min(batch.acquired_at, old.acquired_at)
            self._batch_of[key] = batch
        self._batches.append(batch)

    def settled(self, key: Coordinates) -> None:
        batch = self._batch_of.pop(key, None)
        if batch is not None:
            batch.records.pop(key, None)

    def settled_all(self, keys: Iterable[Coordinates]) -> None:
        batch_of = self._batch_of
        for key in keys:
            batch = batch_of.pop(key, None)
            if batch is not None:
                batch.records.pop(key, None)

    def deadline(self, key: Coordinates) -> float | None:
        batch = self._batch_of.get(key)
        return None if batch is None else batch.deadline

    def lapsed(self, key: Coordinates, now: float | None = None) -> bool:
        """Whether ``key`` is held and its lock ran out by ``now``."""
        deadline = self.deadline(key)
        return deadline is not None and (now or time.time()) >= deadline

    def holds(self, key: Coordinates) -> bool:
        return key in self._batch_of

    def batches(self) -> list[LeaseBatch]:
        """The distinct batches still holding records (owner thread)."""
        self._batches = [batch for batch in self._batches if batch.records]
        return self._batches

    def get(self, key: Coordinates) -> Lease | None:
        batch = self._batch_of.get(key)
        if batch is None:
            return None
        record = batch.records.get(key)
        return None if record is None else self._lease(key, record, batch)

    @property
    def held_records(self) -> list[ReceivedRecord]:
        """The records held now, without building a :class:`Lease` each (the metrics' lease
        gauge counts them per delivery count at every scrape)."""
        return [
            record
            for key, batch in list(self._batch_of.items())
            if (record := batch.records.get(key)) is not None
        ]

    def oldest_leases(self) -> Iterator[Lease]:
        """The leases held now, oldest first, built as they are taken (any thread: it walks
        a copy of the index, so a caller that stops early pays only for what it took)."""
        for key, batch in list(self._batch_of.items()):
            record = batch.records.get(key)
            if record is not None:
                yield self._lease(key, record, batch)

    def _lease(self, key: Coordinates, record: ReceivedRecord, batch: LeaseBatch) -> Lease:
        return Lease(
            *key,
            record.delivery_count,
            batch.acquired_at,
            batch.deadline,
            self.holder,
            record,
        )

    def __len__(self) -> int:
        return len(self._batch_of)
