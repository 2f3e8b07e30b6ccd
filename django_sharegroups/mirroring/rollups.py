"""The per-minute rollup (ThroughputMinute): counted in memory, upserted once per interval.

Consumer threads call :meth:`MinuteTally.add_acks` once per acknowledgement batch (``add``
per archive or DLQ copy, which are rare): a dict update under a lock nobody holds for long.
Each interval the reporter thread takes the counts (:meth:`MinuteTally.take`) and
:func:`write` upserts the totals of every minute that changed with absolute values, so a
retried write is harmless.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime

from django.apps import apps

COLUMNS = ("accepted", "released", "rejected", "archived", "dead_lettered")
#: ``acks.sent`` count keys → index in COLUMNS (RELEASE_DELAYED is not an outcome yet).
ACK_INDEX = {"ACCEPT": 0, "RELEASE": 1, "REJECT": 2}
#: Minutes kept in memory after their last change (later counts for them are still added).
OPEN_MINUTES = 3

Slot = tuple[str, int]  # (share group, minute number since the epoch)


class MinuteTally:
    """Counts per (share group, minute) since the last :meth:`take`, as lists in COLUMNS
    order (plain lists: this runs once per acknowledgement batch)."""

    def __init__(self, clock=time.time) -> None:
        self._clock = clock
        self._counts: dict[Slot, list[int]] = {}
        self._lock = threading.Lock()

    def add_acks(self, share_group: str, counts: Mapping[str, int]) -> None:
        slot = (share_group, int(self._clock() // 60))
        with self._lock:
            tally = self._counts.get(slot)
            if tally is None:
                tally = self._counts[slot] = [0, 0, 0, 0, 0]
            for kind, n in counts.items():
                index = ACK_INDEX.get(kind)
                if index is not None:
                    tally[index] += n

    def add(self, share_group: str, column: str, n: int = 1) -> None:
        slot = (share_group, int(self._clock() // 60))
        with self._lock:
            tally = self._counts.setdefault(slot, [0, 0, 0, 0, 0])
            tally[COLUMNS.index(column)] += n

    def take(self) -> dict[Slot, list[int]]:
        with self._lock:
            taken, self._counts = self._counts, {}
        return taken


class MinuteTotals:
    """The reporter's running totals of the minutes still open, and what to write next."""

    def __init__(self) -> None:
        self.reporter = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.totals: dict[Slot, Counter[str]] = {}
        self.dirty: set[Slot] = set()

    def merge(self, counts: dict[Slot, list[int]]) -> None:
        for slot, tally in counts.items():
            if not any(tally):
                continue
            total = self.totals.setdefault(slot, Counter())
            total.update({column: n for column, n in zip(COLUMNS, tally, strict=True) if n})
            self.dirty.add(slot)

    def written(self, now: float | None = None) -> None:
        """The dirty minutes are in the database; forget minutes that closed long ago."""
        self.dirty.clear()
        current = int((time.time() if now is None else now) // 60)
        for slot in [slot for slot in self.totals if slot[1] < current - OPEN_MINUTES]:
            del self.totals[slot]


def write(totals: MinuteTotals) -> int:
    """Upsert the dirty minutes' totals; returns the rows written."""
    if not totals.dirty:
        return 0
    model = apps.get_model("django_sharegroups", "ThroughputMinute")
    rows = [
        model(
            share_group=group,
            minute=datetime.fromtimestamp(minute * 60, tz=UTC),
            reporter=totals.reporter,
            **{column: totals.totals[(group, minute)][column] for column in COLUMNS},
        )
        for group, minute in sorted(totals.dirty)
    ]
    model.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["share_group", "minute", "reporter"],
        update_fields=list(COLUMNS),
    )
    return len(rows)
