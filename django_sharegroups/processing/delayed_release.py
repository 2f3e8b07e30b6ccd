"""Delayed releases: records a consumer gave back "in N ms", held until then.

One structure per consumer instance, used by its owner thread only. Entries are ordered by
their next due time: the release deadline, or earlier the next RENEW that keeps the lock alive
(adapters with RENEW). It is bounded; when full, a delayed release becomes an immediate one.
On shutdown everything left is released at once (no persistence across restarts).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

from ..messages import Message


@dataclass(order=True)
class DelayedRelease:
    due: float
    sequence: int
    message: Message = field(compare=False)
    release_at: float = field(compare=False)


class DelayedReleases:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._heap: list[DelayedRelease] = []
        self._sequence = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def full(self) -> bool:
        return len(self._heap) >= self.capacity

    def add(self, message: Message, release_at: float, renew_at: float | None = None) -> None:
        due = release_at if renew_at is None else min(renew_at, release_at)
        heapq.heappush(self._heap, DelayedRelease(due, next(self._sequence), message, release_at))

    def coordinates(self) -> set[tuple[str, int, int]]:
        return {entry.message.coordinates for entry in self._heap}

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
