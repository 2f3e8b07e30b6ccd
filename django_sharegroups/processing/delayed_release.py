"""Delayed releases: records a consumer gave back "in N ms", held until then.

One structure per consumer instance, used by its owner thread only. Entries are ordered by
their release time. It owns the two rules of holding: without RENEW a hold is clamped to end
before the record's lock does (``release.clamped``), and it is bounded — when full, a delayed
release becomes an immediate one (``release.overflow``). With RENEW the renew scheduler keeps
held locks alive. On shutdown everything left is released at once (no persistence across
restarts).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

from ..clients.base import ReceivedRecord
from ..instrumentation import EventBus
from ..messages import Message
from .executor import describe


@dataclass(order=True)
class DelayedRelease:
    due: float
    sequence: int
    message: Message = field(compare=False)
    release_at: float = field(compare=False)


def latest_release(deadline: float | None, lock_ms: int | None, now: float) -> float:
    """Without RENEW a held record must be released a little before its lock runs out."""
    if deadline is None or not lock_ms:
        return now
    return deadline - min(1.0, lock_ms / 1000 * 0.1)


class DelayedReleases:
    def __init__(self, capacity: int, share_group: str = "", bus: EventBus | None = None) -> None:
        self.capacity = capacity
        self.share_group = share_group
        self.bus = bus or EventBus()
        self._heap: list[DelayedRelease] = []
        self._sequence = itertools.count()

    def hold(self, message: Message, delay_ms: int, now: float, latest: float | None) -> bool:
        """Hold ``message`` for ``delay_ms`` (no later than ``latest``, if given); False when
        full — the caller releases it at once."""
        release_at = now + delay_ms / 1000
        bus, group = self.bus, self.share_group
        if latest is not None and release_at > latest:
            if bus.wants("release.clamped"):
                bus.publish(
                    "release.clamped",
                    share_group=group,
                    record=describe([message]),
                    asked_ms=delay_ms,
                    honoured_ms=max(0, int((latest - now) * 1000)),
                )
            release_at = latest
        if self.full():
            if bus.wants("release.overflow"):
                bus.publish("release.overflow", share_group=group, record=describe([message]))
            return False
        self.add(message, release_at)
        if bus.wants("release.delayed"):
            bus.publish(
                "release.delayed",
                share_group=group,
                record=describe([message]),
                delay_ms=int((release_at - now) * 1000),
            )
        return True

    def __len__(self) -> int:
        return len(self._heap)

    def full(self) -> bool:
        return len(self._heap) >= self.capacity

    def add(self, message: Message, release_at: float, renew_at: float | None = None) -> None:
        due = release_at if renew_at is None else min(renew_at, release_at)
        heapq.heappush(self._heap, DelayedRelease(due, next(self._sequence), message, release_at))

    def records(self) -> set[ReceivedRecord]:
        return {entry.message.record for entry in self._heap}

    def next_due(self) -> float | None:
        return self._heap[0].due if self._heap else None

    def pop_due(self, now: float) -> list[DelayedRelease]:
        """Entries due by ``now``: the caller releases or renews (and re-adds) each."""
        due = []
        while self._heap and self._heap[0].due <= now:
            due.append(heapq.heappop(self._heap))
        return due

    def drain(self) -> list[DelayedRelease]:
        entries, self._heap = sorted(self._heap), []
        return entries
