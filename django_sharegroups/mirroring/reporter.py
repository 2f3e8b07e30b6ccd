"""The reporter thread: turns queued runtime events into batched writes, every interval.

Consumer threads only append to bounded in-memory queues (a full queue drops and counts, it
never blocks); this thread does all the database work: the process heartbeat, a snapshot of
the leases the listeners hold, and bulk upserts of dead letters and archived records. A batch
that failed to write (database down) is kept and retried at the next interval, within the
queue bound.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connections

from . import rollups, writers
from .settings import MirrorSettings

logger = logging.getLogger("django_sharegroups.mirroring")

#: Seconds between two log lines about failed writes (the first one is logged at once).
ERROR_LOG_INTERVAL = 60.0


class BoundedQueue:
    """A queue that refuses (and counts) new items when full, so producers never wait."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: deque = deque()
        self.dropped = 0
        self._lock = threading.Lock()

    def put(self, item: Any) -> bool:
        if len(self._items) >= self.size:
            with self._lock:
                self.dropped += 1
            return False
        self._items.append(item)
        return True

    def take(self) -> list[Any]:
        taken = []
        while True:
            try:
                taken.append(self._items.popleft())
            except IndexError:
                return taken

    def give_back(self, items: list[Any]) -> None:
        """Put a failed batch back in front, dropping (and counting) what no longer fits."""
        room = max(0, self.size - len(self._items))
        keep, lost = items[:room], items[room:]
        self._items.extendleft(reversed(keep))
        if lost:
            with self._lock:
                self.dropped += len(lost)

    def __len__(self) -> int:
        return len(self._items)


class MirrorReporter(threading.Thread):
    """Mirrors one runner's state; started on ``process.started``, stopped on shutdown."""

    def __init__(self, listeners: Sequence[Any], mirror: MirrorSettings) -> None:
        super().__init__(name="sharegroups:mirror-reporter", daemon=True)
        self.listeners = list(listeners)
        self.mirror = mirror
        self.status = "running"
        self.started_at = datetime.now(tz=UTC)
        self.process_pk: int | None = None
        self.queues = {
            "archived": BoundedQueue(mirror.queue_size),
            "dead_letters": BoundedQueue(mirror.queue_size),
        }
        #: Per-minute outcome counts (rollups): added to by consumer threads, written here.
        self.minutes = rollups.MinuteTally()
        self.minute_totals = rollups.MinuteTotals()
        #: Rows written and batches that failed, per kind.
        self.written: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.flushes = 0
        self._stop_event = threading.Event()
        self._wake = threading.Event()
        self._last_leases: frozenset | None = None
        self._last_error_log = 0.0
        #: None until the tables were looked for; False when they are missing (not migrated).
        self._tables_ready: bool | None = None

    # -- called from consumer threads: cheap, never blocking ---------------------------------

    def record_acks(self, share_group: str, counts: dict[str, int]) -> None:
        if self.mirror.rollups != "off":
            self.minutes.add_acks(share_group, counts)

    def record_archived(self, payload: dict[str, Any]) -> None:
        if self.mirror.rollups != "off":
            self.minutes.add(payload["share_group"], "archived")
        if self._keeps("archived", payload):
            self.queues["archived"].put({**payload, "at": time.time()})

    def record_dead_letter(self, payload: dict[str, Any]) -> None:
        if self.mirror.rollups != "off":
            self.minutes.add(payload["share_group"], "dead_lettered")
        if self._keeps("dead_letters", payload):
            self.queues["dead_letters"].put({**payload, "at": time.time()})

    def _keeps(self, kind: str, payload: dict[str, Any]) -> bool:
        return self.mirror.keeps(
            kind, payload["share_group"], payload["topic"], payload["partition"], payload["offset"]
        )

    @property
    def dropped(self) -> dict[str, int]:
        return {kind: queue.dropped for kind, queue in self.queues.items()}

    # -- lifecycle ----------------------------------------------------------------------------

    def stop(self, timeout: float | None = None) -> None:
        """Write what is left, mark the process stopped and end the thread."""
        self.status = "stopped"
        self._stop_event.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout)

    def flush_soon(self) -> None:
        """Do not wait for the interval (tests, quiet mode)."""
        self._wake.set()

    def run(self) -> None:
        try:
            while not self._stop_event.is_set():
                self._wake.wait(self.mirror.interval)
                self._wake.clear()
                if self._stop_event.is_set():
                    break
                self.flush()
            self.flush(final=True)
        finally:
            connections.close_all()

    # -- the writes ---------------------------------------------------------------------------

    def flush(self, final: bool = False) -> None:
        # The thread keeps its connection across flushes (whatever CONN_MAX_AGE says: one
        # connection, not one per second); a failed write closes it, the next flush reconnects.
        if self._tables_ready is None:
            self._section("tables", self._check_tables)
        if not self._tables_ready:
            return
        self._section("processes", self._write_process, final)
        if self.mirror.mode("leases") != "off":
            self._section("leases", self._write_leases, final)
        for kind, queue in self.queues.items():
            batch = queue.take()
            if batch and not self._section(kind, self._write_batch, kind, batch):
                queue.give_back(batch)
        if self.mirror.rollups != "off":
            self._section("rollups", self._write_rollups)
        self.flushes += 1

    def _section(self, kind: str, write, *args) -> bool:
        try:
            write(*args)
        except Exception as exc:
            self.failures[kind] += 1
            now = time.monotonic()
            if now - self._last_error_log >= ERROR_LOG_INTERVAL:
                self._last_error_log = now
                logger.warning(
                    "Mirroring %s failed (%s); failures so far: %s, dropped: %s",
                    kind,
                    exc,
                    dict(self.failures),
                    self.dropped,
                    exc_info=True,
                )
            connections.close_all()  # a restarted database must not break the reporter for good
            return False
        return True

    def _check_tables(self) -> None:
        names = [*writers.MIRRORED_MODELS]
        if self.mirror.rollups != "off":
            names.append("ThroughputMinute")
        needed = {writers.model(name)._meta.db_table for name in names}
        connection = connections["default"]
        with connection.cursor() as cursor:
            missing = needed - set(connection.introspection.table_names(cursor))
        self._tables_ready = not missing
        if missing:
            logger.warning(
                "Mirroring is on (SHAREGROUPS['MIRROR']) but table(s) %s do not exist: run "
                "`manage.py migrate`, or set SHAREGROUPS['MIRROR'] = 'off'. Nothing is mirrored.",
                ", ".join(sorted(missing)),
            )

    def _needs_process_row(self) -> bool:
        # Leases point at their process: its heartbeat is how a dead process's leases are told.
        return self.mirror.mode("processes") != "off" or self.mirror.mode("leases") != "off"

    def _write_process(self, final: bool) -> None:
        if not self._needs_process_row():
            return
        if self.process_pk is None:
            groups = sorted({listener.share_group.name for listener in self.listeners})
            self.process_pk = writers.register_process(groups, len(self.listeners), self.started_at)
            self.written["processes"] += 1
        if final:
            writers.finish_process(self.process_pk)
        else:
            writers.heartbeat(self.process_pk, self.status)

    def _write_leases(self, final: bool) -> None:
        if final or self.process_pk is None:
            return  # finish_process dropped them; without a process row there is no owner
        leases = self._oldest_leases()
        signature = frozenset(
            (group, lease.coordinates, lease.delivery_count, lease.holder)
            for group, lease in leases
        )
        if signature == self._last_leases:
            return
        self.written["leases"] += writers.replace_leases(self.process_pk, leases)
        self._last_leases = signature

    def _oldest_leases(self) -> list[tuple[str, Any]]:
        """The leases to mirror: the oldest ``max_leases`` of the process. A poll of fast jobs
        can hold tens of thousands of records for a fraction of a second; rewriting a row for
        each every interval would cost more than processing them, and the admin shows the
        oldest anyway."""
        limit = self.mirror.max_leases
        leases: list[tuple[str, Any]] = []
        for listener in self.listeners:
            name = listener.share_group.name
            taken = 0
            for lease in listener.leases.oldest_leases():
                if taken == limit:
                    break
                if self.mirror.keeps("leases", name, lease.topic, lease.partition, lease.offset):
                    leases.append((name, lease))
                    taken += 1
        if len(leases) > limit:
            leases = heapq.nsmallest(limit, leases, key=lambda item: item[1].acquired_at)
        return leases

    def _write_rollups(self) -> None:
        # Merged before writing: after a failed write the totals stay dirty and are retried.
        self.minute_totals.merge(self.minutes.take())
        self.written["rollups"] += rollups.write(self.minute_totals)
        self.minute_totals.written()

    def _write_batch(self, kind: str, batch: list[dict[str, Any]]) -> None:
        if kind == "archived":
            self.written[kind] += writers.upsert_archived(batch)
        else:
            self.written[kind] += writers.upsert_dead_letters(batch, self.mirror.payload_limit)
