"""The listener: one thread owning one share-consumer client; it only loops and delegates.

It polls when a worker slot is free, for as many records as acquisition sizing allows
(processing/acquisition.py); intake turns them into jobs (runtime/intake.py); jobs run inline
or on the worker pool; the settler applies what each job's strategy decides
(runtime/settler.py). Beside the loop: the renew scheduler (adapters with RENEW), delayed
releases, the poison observer, and a state machine (runtime/state.py). Only this thread
touches its client; adapters without ``hold_across_polls`` (librdkafka) get every record of a
poll acknowledged before the next poll.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Any

from django.db import connections

from ..clients.base import (
    Capability,
    ReceivedRecord,
    ShareConsumerClient,
    ShareConsumerClientFactory,
)
from ..consumer import ShareGroupConsumer
from ..instrumentation import EventBus
from ..messages import Message
from ..processing.acquisition import MAX_RECORDS_PER_POLL, AcquisitionSizer
from ..processing.delayed_release import DelayedReleases
from ..processing.leases import LeaseTracker
from ..processing.poison import PoisonObserver
from ..processing.renewal import RenewScheduler
from ..routing.settings import GroupSettings
from . import process_identity
from .intake import RecordIntake
from .jobs import JobRunner, shutdown_consumers
from .poller import Poller
from .preflight import GroupLimits
from .settler import Settler
from .state import ListenerState, StateMachine
from .throttle import Throttle
from .workers import JobResult, RenewRequest, WorkerFailure, WorkerPool

logger = logging.getLogger("django_sharegroups.runtime")


class ShareGroupListener(threading.Thread):
    """Runs one share-consumer instance (``index`` of the group's ``concurrency``)."""

    def __init__(
        self,
        share_group: GroupSettings,
        index: int,
        factory: ShareConsumerClientFactory,
        *,
        stop_event: threading.Event,
        bus: EventBus,
        poll_timeout: float,
        commit_timeout: float,
        limits: GroupLimits | None = None,
    ) -> None:
        super().__init__(name=f"sharegroups:{share_group.name}:{index}", daemon=True)
        self.share_group, self.index, self.factory, self.bus = share_group, index, factory, bus
        self.limits = limits or GroupLimits(share_group.route.record_lock_duration_ms, 5)
        self.stop_event = stop_event
        self.poll_timeout, self.commit_timeout = poll_timeout, commit_timeout
        self.client_id = process_identity.client_id(share_group.name, index)
        self.client_name = factory.client_class.name
        self.topics = share_group.topics
        self.intake = RecordIntake(share_group.name, bus)
        self.leases = LeaseTracker(self.name)
        self.delayed = DelayedReleases(share_group.max_delayed_releases, share_group.name, bus)
        self.observer = PoisonObserver(share_group.name, self.limits.delivery_count_limit, bus)
        self.renewal = RenewScheduler(self.leases, self.topics, self.delayed.coordinates)
        self.machine = StateMachine()
        #: Set by the runner before it stops polling in quiet mode (SIGTSTP).
        self.quiet_requested = False
        #: Why the thread died (``failed``), for the runner's report and restart.
        self.failure: BaseException | None = None
        self.startup_error: BaseException | None = None
        self.started_consuming = threading.Event()
        self.run_job = JobRunner(
            share_group, factory, bus=bus, leases=self.leases, intake=self.intake
        )
        #: Jobs running now, for the shutdown report.
        self.running = self.run_job.running
        self.pool: WorkerPool | None = None
        #: Consumer instances of the listener thread itself (one per topic).
        self.inline_consumers: dict[str, ShareGroupConsumer] = {}
        self.renews = False
        self.sizer: AcquisitionSizer | None = None
        self.poller: Poller | None = None
        self.settler: Settler | None = None

    @property
    def current_job(self) -> str | None:
        return "; ".join(self.running.values()) or None

    @property
    def state(self) -> ListenerState:
        return self.machine.state

    @property
    def poll_failing_since(self) -> float | None:
        return self.poller.failing_since if self.poller is not None else None

    @property
    def live(self) -> bool:
        """Serving its group: the thread runs, has not failed and its polls work."""
        return self.is_alive() and self.machine.live and self.poll_failing_since is None

    @property
    def failure_reason(self) -> str | None:
        if self.failure is not None:
            return f"{type(self.failure).__name__}: {self.failure}"
        return "polls fail" if self.poll_failing_since is not None else None

    # -- thread body ---------------------------------------------------------------------------

    def run(self) -> None:
        try:
            client = self._start()
        except Exception as exc:
            self.startup_error = exc
            self._fail(exc)
            self.started_consuming.set()
            return
        try:
            self._loop(client)
            if self.quiet_requested:
                self.machine.to(ListenerState.QUIET)
            self.machine.to(ListenerState.STOPPING)
            self._finish_in_flight(client)
        except BaseException as exc:  # noqa: BLE001 - the runner restarts a failed listener
            self._fail(exc)
        finally:
            self._close(client)
        if self.machine.state is ListenerState.STOPPING:
            self.machine.to(ListenerState.STOPPED)

    def _start(self) -> ShareConsumerClient:
        # librdkafka reads max.poll.records only here (a hint): the per-poll bound, unless the
        # group's kafka options say otherwise; other adapters get each poll's exact size.
        overrides: dict[str, Any] = {"max.poll.records": MAX_RECORDS_PER_POLL}
        overrides.update(self.share_group.kafka)
        client = self.factory.create(
            self.share_group.name, client_id=self.client_id, overrides=overrides
        )
        client.subscribe(self.share_group.topic_names)
        self.renews = client.supports(Capability.RENEW)
        self.run_job.on_renew = self._request_renew if self.renews else None
        self.sizer = AcquisitionSizer(
            workers=self.share_group.workers_per_consumer,
            max_messages_per_job=self.share_group.max_messages_per_job,
            lock_ms=None,
            renewing=self.renews and self.renewal.every_topic,
        )
        self.poller = Poller(
            self.share_group.name,
            client,
            sizer=self.sizer,
            throttle=Throttle(self.share_group.throttle, self.share_group.name, self.bus),
            leases=self.leases,
            bus=self.bus,
            stop_event=self.stop_event,
            timeout=self.poll_timeout,
            declared_lock_ms=self.limits.record_lock_duration_ms,
        )
        self.poller.lock_ms()
        self.settler = Settler(
            self.share_group.name,
            self.topics,
            client,
            leases=self.leases,
            delayed=self.delayed,
            observer=self.observer,
            producer=self.factory.producer,
            bus=self.bus,
            renews=self.renews,
            lock_ms=lambda: self._lock_ms(client),
        )
        self.bus.publish(
            "consumer.started", share_group=self.share_group.name, client_id=self.client_id
        )
        self.machine.to(ListenerState.RUNNING)
        self.started_consuming.set()
        self.sizer.publish_report(self.bus, self.share_group.name)
        # With RENEW the owner thread must stay free to renew while jobs run: use a pool.
        if self.share_group.workers_per_consumer > 1 or self.renews:
            self.pool = WorkerPool(
                self.share_group.workers_per_consumer, self.name, self.run_job, self.stop_event
            )
        return client

    def _fail(self, exc: BaseException) -> None:
        self.failure = exc
        self.machine.to(ListenerState.FAILED)
        self.bus.publish(
            "consumer.failed",
            share_group=self.share_group.name,
            client_id=self.client_id,
            error=f"{type(exc).__name__}: {exc}",
            exception=exc,
        )

    def _loop(self, client: ShareConsumerClient) -> None:
        interval = self.share_group.poll_interval_ms / 1000
        holds_across_polls = client.supports(Capability.HOLD_ACROSS_POLLS)
        pool, poller, settler = self.pool, self.poller, self.settler
        assert poller is not None and settler is not None
        while not self.stop_event.is_set():
            self._housekeeping(client)
            busy = pool is not None and (
                pool.free_slots() == 0 or (pool.in_flight and not holds_across_polls)
            )
            if busy or (self.delayed and not holds_across_polls):
                self._wait(client)  # librdkafka: all of a poll acknowledged before the next
                continue
            settler.report_expired_locks()
            polled = poller.poll(pool.free_slots() if pool is not None else 1)
            if polled is None:
                continue
            self._report_failures(client.take_acknowledgement_failures())
            records, polled_at, deadline = polled
            if records:
                self._dispatch(records, polled_at, deadline)
                if interval:
                    client.commit_async()
            if interval:
                self.stop_event.wait(interval)

    def _lock_ms(self, client: ShareConsumerClient) -> int | None:
        assert self.poller is not None
        return self.poller.lock_ms()

    def _wait(self, client: ShareConsumerClient) -> None:
        """Sleep until a job finishes, a request arrives or something falls due."""
        timeout = self.poll_timeout
        lock_ms = self._lock_ms(client)
        renew_at = self.renewal.next_due(lock_ms) if self.renews and lock_ms else None
        for due in (self.delayed.next_due(), renew_at):
            if due is not None:
                timeout = min(timeout, due - time.time())
        if self.pool is not None:
            self._handle(client, self.pool.wait(timeout))
        else:
            self.stop_event.wait(max(0.0, timeout))

    def _housekeeping(self, client: ShareConsumerClient) -> None:
        """Between polls: take finished jobs and requests, renew locks, release what is due."""
        if self.pool is not None:
            self._handle(client, self.pool.drain())
        assert self.settler is not None
        renewed = self._renew_due(client)
        released = self.delayed.pop_due(time.time())
        for entry in released:
            self.settler.release(entry.message)
        if renewed or released:
            client.commit_async()

    def _handle(self, client: ShareConsumerClient, items: list) -> None:
        assert self.settler is not None
        renewed = 0
        for item in items:
            if isinstance(item, WorkerFailure):
                raise item.error
            if isinstance(item, RenewRequest):
                renewed = self.settler.renew([item.record], self._lock_ms(client)) or renewed
            else:
                self._settle(item)
        if renewed:
            client.commit_async()

    def _settle(self, result: JobResult) -> None:
        assert self.settler is not None and self.sizer is not None
        acknowledgements = result.acknowledgements
        if acknowledgements is not None and acknowledgements.started:
            self.sizer.job_finished(acknowledgements.started, acknowledgements.seconds)
            self.sizer.publish_report(self.bus, self.share_group.name)
        self.settler.apply(result.job, acknowledgements)

    # -- lock renewal (adapters with RENEW) --------------------------------------------------

    def _renew_due(self, client: ShareConsumerClient) -> int:
        lock_ms = self._lock_ms(client)
        if not self.renews or not lock_ms:
            return 0
        assert self.settler is not None
        return self.settler.renew(self.renewal.due(lock_ms, time.time()), lock_ms)

    def _request_renew(self, message: Message) -> None:
        """``extend_lock``: the job's thread asks the owner thread to RENEW."""
        assert self.pool is not None  # adapters with RENEW always get a pool
        self.pool.post(RenewRequest(message.record))

    # -- processing ----------------------------------------------------------------------------

    def _dispatch(
        self, records: list[ReceivedRecord], polled_at: datetime, deadline: float | None
    ) -> None:
        assert self.settler is not None
        by_topic: dict[str, list[ReceivedRecord]] = {}
        if len(self.topics) == 1:
            by_topic[next(iter(self.topics))] = records
        else:
            for record in records:
                by_topic.setdefault(record.topic, []).append(record)
        for topic_name, topic_records in by_topic.items():
            intake = self.intake.take(self.topics[topic_name], topic_records, polled_at, deadline)
            for record, ack_type, reason in intake.settled:
                self.settler.acknowledge(record, ack_type, reason)
            for job, acknowledgements in intake.failed:
                self.settler.apply(job, acknowledgements)
            for job in intake.jobs:
                if self.pool is not None:
                    self.pool.submit(job)
                elif self.stop_event.is_set():
                    self.settler.apply(job, None)
                else:
                    self._settle(JobResult(job, self.run_job(job, self.inline_consumers)))

    # -- stopping ------------------------------------------------------------------------------

    def _finish_in_flight(self, client: ShareConsumerClient) -> None:
        """Let running jobs finish (jobs not started yet come back unstarted), then release
        every delayed release at once."""
        assert self.settler is not None
        while self.pool is not None and self.pool.in_flight:
            self._handle(client, self.pool.wait(0.2))
            self._renew_due(client)
        for entry in self.delayed.drain():
            self.settler.release(entry.message)
        self.settler.report_expired_locks()

    def _close(self, client: ShareConsumerClient) -> None:
        if self.pool is not None:
            self.pool.close()
            finished = [i for i in self.pool.drain() if not isinstance(i, WorkerFailure)]
            try:
                self._handle(client, finished)
            except Exception:
                logger.exception("%s: acknowledging the last jobs failed", self.name)
        try:
            self._report_failures(client.commit_sync(self.commit_timeout))
        except Exception as exc:
            logger.exception("%s: final commit failed: %s", self.name, exc)
        shutdown_consumers(self.inline_consumers, self.name)
        try:
            client.close()
        except Exception:
            logger.exception("%s: closing the client failed", self.name)
        connections.close_all()
        self.bus.publish(
            "consumer.stopped", share_group=self.share_group.name, client_id=self.client_id
        )

    def _report_failures(self, failures: list) -> None:
        if failures:
            self._publish("acks.failed", failures=failures)

    def _publish(self, event: str, **payload: Any) -> None:
        self.bus.publish(event, share_group=self.share_group.name, **payload)
