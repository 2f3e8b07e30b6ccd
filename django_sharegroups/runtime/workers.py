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
    ) -> None:
        self.size = size
        self.run_job = run_job
        self.stop_event = stop_event
        self.in_flight = 0
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
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
        return max(0, self.size - self.in_flight)

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
        for _ in self._threads:
            self._jobs.put(_STOP)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        state: dict = {}
        try:
            while True:
                job = self._jobs.get()
                if job is _STOP:
                    return
                if self.stop_event.is_set():
                    self._hand_back(JobResult(job, None), urgent=False)
                    continue
                try:
                    self._hand_back(JobResult(job, self.run_job(job, state)), urgent=False)
                except BaseException as exc:  # noqa: BLE001 - handed to the listener
                    self._hand_back(WorkerFailure(job, exc), urgent=True)
        finally:
            shutdown_consumers(state, threading.current_thread().name)
            connections.close_all()
