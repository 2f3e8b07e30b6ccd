"""Leases: the records a consumer instance holds, each until its acquisition lock runs out.

The broker starts a record's lock when it acquires the record; we stamp the lease when the poll
returns, which is no earlier, so a lease we think has lapsed really has. The deadline is
``acquired_at + lock duration``. A job never starts on a lapsed lease (the broker may already
have given the record to another member) and ``lock_expired`` tells the consumer about leases
that ran out before their acknowledgement.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from ..clients.base import ReceivedRecord

Coordinates = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class Lease:
    topic: str
    partition: int
    offset: int
    delivery_count: int
    #: ``time.time()`` values, so they can be shown and mirrored as datetimes.
    acquired_at: float
    deadline: float | None
    holder: str
    #: What the client needs to acknowledge (or RENEW) the record.
    record: ReceivedRecord | None = field(default=None, compare=False, repr=False)

    @property
    def coordinates(self) -> Coordinates:
        return (self.topic, self.partition, self.offset)

    def lapsed(self, now: float | None = None) -> bool:
        return self.deadline is not None and (now or time.time()) >= self.deadline


class LeaseTracker:
    """The leases of one consumer instance; changed by its owner thread, readable anywhere."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        self._leases: dict[Coordinates, Lease] = {}
        self._lock = threading.Lock()

    def acquired(
        self, records: Iterable[ReceivedRecord], lock_duration_ms: int | None, at: float
    ) -> None:
        deadline = None if lock_duration_ms is None else at + lock_duration_ms / 1000
        with self._lock:
            for r in records:
                self._leases[(r.topic, r.partition, r.offset)] = Lease(
                    r.topic, r.partition, r.offset, r.delivery_count, at, deadline, self.holder, r
                )

    def renewed(self, coordinates: Coordinates, lock_duration_ms: int, at: float) -> None:
        with self._lock:
            lease = self._leases.get(coordinates)
            if lease is not None:
                self._leases[coordinates] = replace(lease, deadline=at + lock_duration_ms / 1000)

    def settled(self, coordinates: Coordinates) -> None:
        with self._lock:
            self._leases.pop(coordinates, None)

    def get(self, coordinates: Coordinates) -> Lease | None:
        return self._leases.get(coordinates)

    @property
    def current_leases(self) -> list[Lease]:
        with self._lock:
            return list(self._leases.values())

    def __len__(self) -> int:
        return len(self._leases)
