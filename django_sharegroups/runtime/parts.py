"""What a listener builds once its client exists: acquisition sizing, the poller, the settler
and, with several workers or an adapter that can RENEW, the worker pool; and the work between
polls that uses them together (finished jobs, renewals, due delayed releases, waiting)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..clients.base import RecordProducer, ShareConsumerClient
from ..instrumentation import EventBus
from ..messages import Message
from ..processing.acquisition import AcquisitionSizer
from ..processing.delayed_release import DelayedReleases
from ..processing.leases import LeaseTracker
from ..processing.poison import PoisonObserver
from ..processing.renewal import RenewScheduler
from ..routing.settings import GroupSettings
from .jobs import JobRunner
from .poller import Poller
from .settler import Settler
from .throttle import Throttle
from .workers import RenewRequest, WorkerFailure, WorkerPool

logger = logging.getLogger("django_sharegroups.runtime")


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

    def wait(self, timeout: float) -> None:
        """Sleep until a job finishes, a request arrives or something falls due."""
        lock_ms = self.poller.lock_ms()
        renew_at = self.renewal.next_due(lock_ms) if self.renews and lock_ms else None
        for due in (self.delayed.next_due(), renew_at):
            if due is not None:
                timeout = min(timeout, due - time.time())
        if self.pool is not None:
            self.settler.handle(self.pool.wait(timeout))
        else:
            self.stop_event.wait(max(0.0, timeout))

    def request_renew(self, message: Message) -> None:
        """``extend_lock``: the job's thread asks the owner thread to RENEW."""
        assert self.pool is not None  # adapters with RENEW always get a pool
        self.pool.post(RenewRequest(message.record))

    def finish_in_flight(self) -> None:
        """Let running jobs finish (jobs not started yet come back unstarted), then release
        every delayed release at once."""
        while self.pool is not None and self.pool.in_flight:
            self.settler.handle(self.pool.wait(0.2))
            self.settler.renew_due()
        for entry in self.delayed.drain():
            self.settler.release(entry.message)
        self.settler.report_expired_locks()

    def close_pool(self, owner: str) -> None:
        """Stop the workers and settle the jobs they finished meanwhile."""
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
    renews: bool,
    leases: LeaseTracker,
    delayed: DelayedReleases,
    observer: PoisonObserver,
    renewal: RenewScheduler,
    run_job: JobRunner,
    producer: Callable[[], RecordProducer],
    bus: EventBus,
    stop_event: threading.Event,
    poll_timeout: float,
    declared_lock_ms: int | None,
) -> ListenerParts:
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
        declared_lock_ms=declared_lock_ms,
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
    pool = None
    # With RENEW the owner thread must stay free to renew while jobs run: use a pool.
    if group.workers_per_consumer > 1 or renews:
        pool = WorkerPool(group.workers_per_consumer, name, run_job, stop_event)
    return ListenerParts(client, sizer, poller, settler, pool, delayed, renewal, renews, stop_event)
