"""The renew scheduler: which held records to RENEW, and when (adapters with RENEW only).

Records are renewed at ``renew_fraction`` of their lock when their topic auto-renews, and
always while they wait for a delayed release. Leases are batched per poll, so the schedule is
computed per batch, not per record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..clients.base import ReceivedRecord
from ..routing.settings import TopicSettings
from .leases import LeaseBatch, LeaseTracker


class RenewScheduler:
    def __init__(
        self,
        leases: LeaseTracker,
        topics: Mapping[str, TopicSettings],
        held_for_release: Callable[[], set[ReceivedRecord]],
    ) -> None:
        self.leases = leases
        self.held_for_release = held_for_release
        self.auto_renew = {name for name, topic in topics.items() if topic.auto_renew}
        self.every_topic = len(self.auto_renew) == len(topics)
        fractions = [t.renew_fraction for t in topics.values() if t.auto_renew]
        self.fraction = min(fractions) if fractions else 0.7

    def _renewable(self, batch: LeaseBatch, held: set[ReceivedRecord]) -> list[ReceivedRecord]:
        if self.every_topic:
            return list(batch.records)
        return [
            record
            for record in list(batch.records)
            if record in held or record.topic in self.auto_renew
        ]

    def _renew_at(self, batch: LeaseBatch, lock_ms: int) -> float | None:
        if batch.deadline is None:
            return None
        return batch.deadline - lock_ms / 1000 * (1 - self.fraction)

    def next_due(self, lock_ms: int) -> float | None:
        held = set() if self.every_topic else self.held_for_release()
        times = [
            at
            for batch in self.leases.batches()
            if (at := self._renew_at(batch, lock_ms)) is not None and self._renewable(batch, held)
        ]
        return min(times) if times else None

    def due(self, lock_ms: int, now: float) -> list[ReceivedRecord]:
        held = set() if self.every_topic else self.held_for_release()
        due: list[ReceivedRecord] = []
        for batch in self.leases.batches():
            at = self._renew_at(batch, lock_ms)
            if at is not None and at <= now:
                due.extend(self._renewable(batch, held))
        return due
