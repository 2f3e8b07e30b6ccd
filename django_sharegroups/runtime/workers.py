"""The worker pool of one consumer instance (``workers_per_consumer`` > 1).

Workers run jobs and hand the results back; only the owning listener thread talks to the
client. Each worker keeps its own consumer instances (one per topic, for the worker's
lifetime) and closes its own database connections when it ends.

A finished job wakes the listener only when the listener has something to do with it: a
worker is about to run out of queued jobs (a slot frees up, the next poll is due) or the item
is urgent (a RENEW request, a worker failure). While a poll's jobs are still queued the
results wait; the listener takes them all at once when it wakes (its timeout bounds the wait).
Waking it for every job cost a CPU-bound job about a fifth of its wall time: each wake-up
takes the interpreter lock from the worker and gives it back, two thread switches per record.
Acknowledgements lose nothing by it: they leave with the next poll or commit either way.

The instances of one share group in one process lend idle workers to each other (``lending``,
where the adapter renews held records): a worker with nothing queued runs a job queued at a
sibling and hands the result back to that sibling, which settles it as its own. The broker
gives each member only some partitions when members outnumber them, and a partition shared by
fewer members runs dry later; at the end of a backlog the members of the drained partitions
sat idle while the others worked through what they held.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections

from .jobs import shutdown_consumers

logger = logging.getLogger("django_sharegroups.runtime")

_STOP = object()
#: How soon a worker with nothing queued looks for a job queued at a sibling (seconds); the
#: wait doubles while it finds none, up to ``LEND_EVERY_AT_MOST`` (idle processes stay idle).
LEND_EVERY = 0.05
LEND_EVERY_AT_MOST = 0.8


@dataclass
class JobResult:
    job: Any
    #: The job's acknowledgements, or None when it was not started (the pool was stopping).
    acknowledgements: Any


@dataclass
class WorkerFailure:
    """A worker thread was hit by something no job may raise (``SystemExit``, ...): the
    listener fails with it and the runner restarts it."""

    job: Any
    error: BaseException


class RenewRequest:
    """``extend_lock`` from a running job, for the owner thread to send."""

    __slots__ = ("record",)

    def __init__(self, record: Any) -> None:
        self.record = record


class WorkerPool:
    """``size`` threads running ``run_job(job, worker_state)``; results (and anything posted)
    come back in order of arrival through :meth:`wait`/:meth:`drain`."""

    def __init__(
        self,
        size: int,
        name: str,
        run_job: Callable[[Any, dict], Any],
        stop_event: threading.Event,
        lending: list[WorkerPool] | None = None,
        runs_at_stop: Callable[[Any], bool] = lambda job: False,
    ) -> None:
        self.size = size
        self.run_job = run_job
        self.stop_event = stop_event
        #: At a stop, whether a queued job still runs (else it comes back unstarted).
        self.runs_at_stop = runs_at_stop
        self.in_flight = 0
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        #: The pools of the same group in this process, this one included (None: no lending).
        self._lending = lending
        self._closing = False
        #: Lending only: workers of this pool waiting for a job, and jobs of this pool that
        #: siblings' workers run now (both written by worker threads, under ``_counts``).
        self._idle = 0
        self._lent = 0
        self._counts = threading.Lock()
        if lending is not None:
            lending.append(self)
        self._results: list[Any] = []
        self._arrived = threading.Condition(threading.Lock())
        #: Set when a handed-back item should wake the listener (see the module docstring).
        self._wake = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}:worker{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def free_slots(self) -> int:
        """Jobs the next poll may bring: idle workers not yet spoken for by queued jobs. With
        lending, the siblings' idle workers count too and this pool's jobs they run do not:
        a member whose partitions still have records then fetches for the workers of those
        whose partitions ran dry (approximate: read without the siblings' locks)."""
        if self._lending is None:
            return max(0, self.size - self.in_flight)
        idle = sum(pool._idle for pool in self._lending if pool is not self)
        return max(0, self.size + idle - (self.in_flight - self._lent))

    def submit(self, job: Any) -> None:
        self.in_flight += 1
        self._jobs.put(job)

    def post(self, item: Any) -> None:
        """Hand the owner something else to do (e.g. a RENEW request from a running job)."""
        self._hand_back(item, urgent=True)

    def wait(self, timeout: float) -> list:
        """Block until something worth waking for arrived (or ``timeout``), then take
        everything handed back so far."""
        with self._arrived:
            if not self._wake:
                self._arrived.wait(max(0.0, timeout))
            return self._take()

    def drain(self) -> list:
        with self._arrived:
            return self._take()

    def _take(self) -> list:
        items, self._results, self._wake = self._results, [], False
        return self._count(items)

    def _hand_back(self, item: Any, *, urgent: bool) -> None:
        with self._arrived:
            self._results.append(item)
            if urgent or self._jobs.empty():
                self._wake = True
                self._arrived.notify()

    def _count(self, items: list) -> list:
        self.in_flight -= sum(1 for item in items if isinstance(item, JobResult | WorkerFailure))
        return items

    def close(self) -> None:
        self._closing = True
        if self._lending is not None and self in self._lending:
            self._lending.remove(self)
        for _ in self._threads:
            self._jobs.put(_STOP)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        state: dict = {}
        try:
            while True:
                owner, job = self._next()
                if job is _STOP:
                    return
                item: JobResult | WorkerFailure
                urgent = False
                if owner.stop_event.is_set() and not owner.runs_at_stop(job):
                    item = JobResult(job, None)
                else:
                    try:
                        item = JobResult(job, owner.run_job(job, state))
                    except BaseException as exc:  # noqa: BLE001 - handed to the listener
                        item, urgent = WorkerFailure(job, exc), True
                if owner is not self:  # before the owner can count the result
                    with owner._counts:
                        owner._lent -= 1
                owner._hand_back(item, urgent=urgent)
        finally:
            shutdown_consumers(state, threading.current_thread().name)
            connections.close_all()

    def _next(self) -> tuple[WorkerPool, Any]:
        """The next job of this pool; with nothing queued here, one queued at a sibling."""
        if self._lending is None:
            return self, self._jobs.get()
        with self._counts:
            self._idle += 1
        try:
            return self._wait_or_borrow()
        finally:
            with self._counts:
                self._idle -= 1

    def _wait_or_borrow(self) -> tuple[WorkerPool, Any]:
        lending = self._lending
        assert lending is not None
        wait = LEND_EVERY
        while True:
            try:
                return self, self._jobs.get(timeout=wait)
            except queue.Empty:
                pass
            if not self._closing:
                for sibling in list(lending):
                    if sibling is self or sibling._closing:
                        continue
                    try:
                        job = sibling._jobs.get_nowait()
                    except queue.Empty:
                        continue
                    if job is _STOP:  # the sibling closes: its own workers take these
                        sibling._jobs.put(job)
                        continue
                    with sibling._counts:
                        sibling._lent += 1
                    return sibling, job
            wait = min(wait * 2, LEND_EVERY_AT_MOST)
