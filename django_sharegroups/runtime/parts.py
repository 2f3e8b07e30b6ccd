"""What a listener builds once its client exists: acquisition sizing, the poller, the settler,
delayed releases, the poison observer, the renew scheduler and, with several workers or an
adapter that can RENEW, the worker pool; the work between polls that uses them together
(finished jobs, renewals, due delayed releases, waiting); and the close (final commit)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..clients.base import (
    AcknowledgementFailure,
    Capability,
    RecordProducer,
    ShareConsumerClient,
)
from ..instrumentation import EventBus
from ..messages import Message
from ..processing.acquisition import STOP_FINISH_SECONDS, AcquisitionSizer
from ..processing.delayed_release import DelayedReleases
from ..processing.executor import RunInterrupted
from ..processing.leases import LeaseTracker
from ..processing.poison import PoisonObserver
from ..processing.renewal import RenewScheduler
from ..routing.settings import GroupSettings
from .intake import Job
from .jobs import JobRunner
from .poller import Poller
from .preflight import GroupLimits
from .settler import Settler
from .throttle import Throttle
from .workers import RenewRequest, WorkerFailure, WorkerPool

logger = logging.getLogger("django_sharegroups.runtime")

#: An inline job slower than this sends the rest of its poll to the worker thread, which
#: leaves the listener free to renew (jobs run inline only while they take microseconds).
INLINE_JOB_SECONDS = 0.1


@dataclass(slots=True)
class ListenerParts:
    client: ShareConsumerClient
    sizer: AcquisitionSizer
    poller: Poller
    settler: Settler
    #: None: jobs run in the listener thread.
    pool: WorkerPool | None
    delayed: DelayedReleases
    renewal: RenewScheduler
    renews: bool
    stop_event: threading.Event
    #: At a stop, whether a job not started yet still runs (see ``build_parts``).
    runs_at_stop: Callable[[Job], bool]
    #: The listener thread's ident (``threading.get_ident()``).
    owner: int = 0

    def housekeeping(self) -> None:
        """Between polls: take finished jobs and requests, renew locks, release what is due."""
        if self.pool is not None:
            self.settler.handle(self.pool.drain())
        renewed = self.settler.renew_due()
        released = self.delayed.pop_due(time.time())
        for entry in released:
            self.settler.release(entry.message)
        if renewed or released:
            self.client.commit_async()

    def next_due(self) -> float | None:
        """When the next renewal or delayed release falls due (``time.time()``), if any."""
        lock_ms = self.poller.lock_ms()
        renew_at = self.renewal.next_due(lock_ms) if self.renews and lock_ms else None
        released_at = self.delayed.next_due()
        if renew_at is None or released_at is None:
            return renew_at if released_at is None else released_at
        return min(renew_at, released_at)

    def wait(self, timeout: float) -> None:
        """Sleep until a job finishes, a request arrives or something falls due."""
        due = self.next_due()
        if due is not None:
            timeout = min(timeout, due - time.time())
        if self.pool is not None:
            self.settler.handle(self.pool.wait(timeout))
        else:
            self.stop_event.wait(max(0.0, timeout))

    def runs_inline(self) -> bool:
        """Whether the next poll's jobs run in this thread: always without a pool; with one
        worker, while jobs are fast enough for whole producer batches and none is in flight.
        Handing a fast job to a worker thread cost it as much again as the job itself (a
        one-record job: 9 → 18 CPU µs in ``benchmarks.hot_path``): everything the job touches
        is written by one thread and read by another, on another core. Between inline jobs
        the listener renews; a slow job sends the poll's other jobs to the worker."""
        pool = self.pool
        return pool is None or (pool.size == 1 and not pool.in_flight and self.sizer.whole_batches)

    def start_jobs(
        self,
        jobs: list[Job],
        inline: bool,
        run: Callable[[Job], Any],
        run_singly: Callable[[list[Job], int, float], tuple[Job, Any]] | None = None,
    ) -> bool:
        """Run ``jobs`` in this thread while ``inline`` holds, hand the others to the pool;
        whether the next jobs may still run inline. Consecutive one-record jobs of a topic
        run back to back through ``run_singly`` (for at most ``INLINE_JOB_SECONDS``).
        Renewals and delayed releases that fall due meanwhile are done between inline
        jobs."""
        due = self.next_due() if inline else None
        index, count = 0, len(jobs)
        while index < count:
            job = jobs[index]
            if not inline:
                assert self.pool is not None
                self.pool.submit(job)
                index += 1
                continue
            if self.stop_event.is_set() and not self.runs_at_stop(job):
                self.settler.apply(job, None)
                index += 1
                continue
            if run_singly is not None and len(job.messages) == 1:
                try:
                    job, acknowledgements = run_singly(jobs, index, INLINE_JOB_SECONDS)
                except RunInterrupted as interrupted:  # the jobs before it are settled first
                    self.settler.job_done(interrupted.job, interrupted.acknowledgements)
                    self.settler.flush()
                    raise interrupted.error from None
                index += len(job.messages)  # the jobs taken, each of one record
                durations = acknowledgements.durations
                last = durations[-1] if durations else acknowledgements.seconds
            else:
                acknowledgements = run(job)
                index += 1
                last = acknowledgements.seconds
            self.settler.job_done(job, acknowledgements)
            if self.pool is not None and last > INLINE_JOB_SECONDS:
                inline = False  # the rest of the poll to the worker: free to renew
            if due is not None and time.time() >= due:
                self.settler.flush()
                self.housekeeping()
                due = self.next_due()
        self.settler.flush()
        return inline

    def request_renew(self, message: Message) -> None:
        """``extend_lock``: RENEW now when the job runs in the owner thread, else ask it to."""
        if self.pool is None or threading.get_ident() == self.owner:
            if self.settler.renew([message.record], self.poller.lock_ms()):
                self.client.commit_async()
            return
        self.pool.post(RenewRequest(message.record))

    def finish_in_flight(self) -> None:
        """Let running jobs finish (jobs not started yet too when ``runs_at_stop`` says so;
        the others come back unstarted), then release every delayed release at once."""
        while self.pool is not None and self.pool.in_flight:
            self.settler.handle(self.pool.wait(0.2))
            self.settler.renew_due()
        for entry in self.delayed.drain():
            self.settler.release(entry.message)
        self.settler.report_expired_locks()

    def close(self, owner: str, commit_timeout: float) -> list[AcknowledgementFailure]:
        """Stop the workers, settle the jobs they finished meanwhile, commit what is left and
        close the client; the acknowledgements the final commit reports as failed."""
        self._close_pool(owner)
        failures: list[AcknowledgementFailure] = []
        try:
            failures = self.client.commit_sync(commit_timeout)
        except Exception as exc:
            logger.exception("%s: final commit failed: %s", owner, exc)
        try:
            self.client.close()
        except Exception:
            logger.exception("%s: closing the client failed", owner)
        return failures

    def _close_pool(self, owner: str) -> None:
        try:
            self.settler.flush()
        except Exception:
            logger.exception("%s: acknowledging the last jobs failed", owner)
        if self.pool is None:
            return
        self.pool.close()
        finished = [i for i in self.pool.drain() if not isinstance(i, WorkerFailure)]
        try:
            self.settler.handle(finished)
        except Exception:
            logger.exception("%s: acknowledging the last jobs failed", owner)


def build_parts(
    group: GroupSettings,
    client: ShareConsumerClient,
    *,
    name: str,
    leases: LeaseTracker,
    run_job: JobRunner,
    producer: Callable[[], RecordProducer],
    bus: EventBus,
    stop_event: threading.Event,
    poll_timeout: float,
    limits: GroupLimits,
    lending: list[WorkerPool] | None = None,
) -> ListenerParts:
    renews = client.supports(Capability.RENEW)
    delayed = DelayedReleases(group.max_delayed_releases, group.name, bus)
    observer = PoisonObserver(group.name, limits.delivery_count_limit, bus)
    renewal = RenewScheduler(leases, group.topics, delayed.records)
    sizer = AcquisitionSizer(
        workers=group.workers_per_consumer,
        max_messages_per_job=group.max_messages_per_job,
        lock_ms=None,
        renewing=renews and renewal.every_topic,
    )
    poller = Poller(
        group.name,
        client,
        sizer=sizer,
        throttle=Throttle(group.throttle, group.name, bus),
        leases=leases,
        bus=bus,
        stop_event=stop_event,
        timeout=poll_timeout,
        declared_lock_ms=limits.record_lock_duration_ms,
    )
    poller.lock_ms()
    settler = Settler(
        group.name,
        group.topics,
        client,
        leases=leases,
        delayed=delayed,
        observer=observer,
        producer=producer,
        bus=bus,
        renews=renews,
        lock_ms=poller.lock_ms,
        sizer=sizer,
        renewal=renewal,
    )

    finishes_held: bool | None = None  # decided at the stop's first ask
    last_attempt = observer.delivery_count_limit

    def runs_at_stop(job: Job) -> bool:
        """At a stop, whether ``job`` (not started yet) still runs rather than release its
        records, each with a delivery attempt spent: when the workers finish all the records
        held at the stop within ``STOP_FINISH_SECONDS`` (decided once, at the first ask, so a
        long tail is not released until its end is short), or when one of the job's records
        is at its last attempt (released, the broker would archive it unseen). Any thread."""
        nonlocal finishes_held
        if finishes_held is None:
            held = len(leases)
            finishes_held = sizer.finishes_within(held, STOP_FINISH_SECONDS)
            logger.info(
                "%s: stopping; the %d record(s) held %s",
                name,
                held,
                "are processed first"
                if finishes_held
                else f"take over {STOP_FINISH_SECONDS:g} s: jobs not started yet release "
                "theirs (except records at their last delivery attempt)",
            )
        return finishes_held or any(m.delivery_count >= last_attempt for m in job.messages)

    pool = None
    # With RENEW the owner thread must stay free to renew while jobs run: use a pool. Idle
    # workers help the group's other instances only where held records are renewed: a job
    # they queued may then wait one job longer (workers.py).
    if group.workers_per_consumer > 1 or renews:
        lending = lending if renews else None
        pool = WorkerPool(
            group.workers_per_consumer, name, run_job, stop_event, lending, runs_at_stop
        )
    return ListenerParts(
        client,
        sizer,
        poller,
        settler,
        pool,
        delayed,
        renewal,
        renews,
        stop_event,
        runs_at_stop,
        threading.get_ident(),
    )
