"""The listener: one thread owning one share-consumer client; it only loops and delegates.

It polls when a worker slot is free, for as many records as acquisition sizing allows
(processing/acquisition.py); intake turns them into jobs (runtime/intake.py); jobs run inline
or on the worker pool; the settler applies what each job's strategy decides, and renewals,
delayed releases and the poison observer work between polls (runtime/parts.py); its states:
runtime/state.py. Only this thread touches its client; adapters without ``hold_across_polls``
(librdkafka) get every record of a poll acknowledged before the next poll.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import connections

from ..clients.base import (
    Capability,
    ReceivedRecord,
    ShareConsumerClient,
    ShareConsumerClientFactory,
)
from ..consumer import ShareGroupConsumer
from ..instrumentation import EventBus
from ..processing.acquisition import MAX_RECORDS_PER_POLL
from ..processing.leases import LeaseTracker
from ..routing.settings import GroupSettings
from . import process_identity
from .intake import RecordIntake
from .jobs import JobRunner, describe_running, shutdown_consumers
from .parts import ListenerParts, build_parts
from .preflight import GroupLimits
from .state import ListenerState, StateMachine
from .workers import WorkerPool

if TYPE_CHECKING:  # OpenTelemetry is imported only where tracing is on
    from ..instrumentation.tracing import JobTracer

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
        tracer: JobTracer | None = None,
        lending: list[WorkerPool] | None = None,
    ) -> None:
        super().__init__(name=f"sharegroups:{share_group.name}:{index}", daemon=True)
        #: The worker pools of the group's instances in this process (they lend idle workers).
        self.lending = lending
        self.share_group, self.index, self.factory, self.bus = share_group, index, factory, bus
        self.limits = limits or GroupLimits(share_group.route.record_lock_duration_ms, 5)
        self.stop_event = stop_event
        self.poll_timeout, self.commit_timeout = poll_timeout, commit_timeout
        self.client_id = process_identity.client_id(share_group.name, index)
        self.topics = share_group.topics
        self.intake = RecordIntake(share_group.name, bus)
        self.leases = LeaseTracker(self.name)
        self.machine = StateMachine()
        #: Set by the runner before it stops polling in quiet mode (SIGTSTP).
        self.quiet_requested = False
        #: Why the thread died (``failed``), for the runner's report and restart.
        self.failure: BaseException | None = None
        self.startup_error: BaseException | None = None
        self.started_consuming = threading.Event()
        self.run_job = JobRunner(
            share_group, factory, bus=bus, leases=self.leases, intake=self.intake, tracer=tracer
        )
        #: Jobs running now, for the shutdown report.
        self.running = self.run_job.running
        #: Consumer instances of the listener thread itself (one per topic).
        self.inline_consumers: dict[str, ShareGroupConsumer] = {}
        #: A job run in this thread (a partial, not a method: one Python call less per job).
        self._run_inline = partial(self.run_job, consumers=self.inline_consumers)
        self._run_singly = partial(self.run_job.run_singly, consumers=self.inline_consumers)
        #: The poller, settler and worker pool, once the client exists.
        self.parts: ListenerParts | None = None

    @property
    def current_job(self) -> str | None:
        return describe_running(self.running)

    @property
    def state(self) -> ListenerState:
        return self.machine.state

    @property
    def pool(self) -> WorkerPool | None:
        return self.parts.pool if self.parts is not None else None

    @property
    def poll_failing_since(self) -> float | None:
        return self.parts.poller.failing_since if self.parts is not None else None

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
            assert self.parts is not None
            self.parts.finish_in_flight()
        except BaseException as exc:  # noqa: BLE001 - the runner restarts a failed listener
            self._fail(exc)
        finally:
            self._close()
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
        parts = build_parts(
            self.share_group,
            client,
            name=self.name,
            leases=self.leases,
            run_job=self.run_job,
            producer=self.factory.producer,
            bus=self.bus,
            stop_event=self.stop_event,
            poll_timeout=self.poll_timeout,
            limits=self.limits,
            lending=self.lending,
        )
        self.parts = parts
        self.run_job.on_renew = parts.request_renew if parts.renews else None
        self._publish("consumer.started", client_id=self.client_id)
        self.machine.to(ListenerState.RUNNING)
        self.started_consuming.set()
        parts.sizer.publish_report(self.bus, self.share_group.name)
        return client

    def _fail(self, exc: BaseException) -> None:
        self.failure = exc
        self.machine.to(ListenerState.FAILED)
        error = f"{type(exc).__name__}: {exc}"
        self._publish("consumer.failed", client_id=self.client_id, error=error, exception=exc)

    def _loop(self, client: ShareConsumerClient) -> None:
        interval = self.share_group.poll_interval_ms / 1000
        holds_across_polls = client.supports(Capability.HOLD_ACROSS_POLLS)
        parts = self.parts
        assert parts is not None
        pool, poller, settler = parts.pool, parts.poller, parts.settler
        throttled = self.share_group.throttle is not None
        while not self.stop_event.is_set():
            parts.housekeeping()
            busy = pool is not None and (
                pool.free_slots() == 0 or (pool.in_flight and not holds_across_polls)
            )
            if busy or (parts.delayed and not holds_across_polls):
                # librdkafka: all of a poll acknowledged before the next
                parts.wait(self.poll_timeout)
                continue
            settler.report_expired_locks()
            inline = parts.runs_inline()
            polled = poller.poll(pool.free_slots() if pool is not None else 1)
            if polled is None:
                continue
            self._report_failures(client.take_acknowledgement_failures())
            records, polled_at, deadline = polled
            if records:
                # Overlap the next fetch with the jobs: before inline jobs, after handing
                # them to the pool (adapters that hold records across polls). A throttled
                # group without a pool acknowledges at once instead.
                prefetch = not interval and (pool is not None or not throttled)
                if prefetch and inline:
                    poller.prefetch()
                self._dispatch(parts, records, polled_at, deadline, inline)
                if prefetch and not inline:
                    poller.prefetch()
                elif not prefetch and (interval or throttled):
                    # The next poll waits: acknowledge now, not with its fetch.
                    client.commit_async()
            if interval:
                self.stop_event.wait(interval)
        # Stopping: records fetched ahead become jobs too, which run or release their records
        # as the stop's rule says (ListenerParts.runs_at_stop).
        polled = poller.take_prefetched()
        if polled is not None and polled[0]:
            self._dispatch(parts, *polled, parts.runs_inline())

    def _dispatch(
        self,
        parts: ListenerParts,
        records: list[ReceivedRecord],
        polled_at: datetime,
        deadline: float | None,
        inline: bool,
    ) -> None:
        for intake in self.intake.take_poll(self.topics, records, polled_at, deadline):
            parts.settler.take(intake)
            inline = parts.start_jobs(intake.jobs, inline, self._run_inline, self._run_singly)

    def _close(self) -> None:
        assert self.parts is not None
        shutdown_consumers(self.inline_consumers, self.name)  # the workers': at their close
        self._report_failures(self.parts.close(self.name, self.commit_timeout))
        connections.close_all()
        self._publish("consumer.stopped", client_id=self.client_id)

    def _report_failures(self, failures: list) -> None:
        if failures:
            self._publish("acks.failed", failures=failures)

    def _publish(self, event: str, **payload: Any) -> None:
        self.bus.publish(event, share_group=self.share_group.name, **payload)
