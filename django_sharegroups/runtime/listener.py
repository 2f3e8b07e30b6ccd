"""The listener: one thread owning one share-consumer client, in a tight poll → process loop.

It polls only when a worker slot is free (with ``workers_per_consumer=1`` the listener thread
is the worker), so records are not acquired ahead of capacity. Only this thread touches its
client: workers hand their acknowledgements back through the pool's result queue, and adapters
without ``hold_across_polls`` (librdkafka) get every record of a poll acknowledged before the
next poll.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connections

from ..clients.base import (
    AcknowledgeType,
    Capability,
    ProduceError,
    ReceivedRecord,
    ShareConsumerClient,
    ShareConsumerClientFactory,
)
from ..consumer import ShareGroupConsumer
from ..exceptions import NotSupportedError
from ..instrumentation import EventBus
from ..messages import Message
from ..processing import dead_letter
from ..processing.acknowledgements import JobAcknowledgements
from ..processing.acquisition import MAX_RECORDS_PER_POLL, AcquisitionSizer
from ..processing.delayed_release import DelayedReleases
from ..processing.executor import describe, execute_job
from ..processing.leases import LeaseTracker
from ..routing.settings import GroupSettings
from .intake import Job, RecordIntake
from .preflight import GroupLimits
from .state import ListenerState, StateMachine
from .workers import JobResult, WorkerFailure, WorkerPool

logger = logging.getLogger("django_sharegroups.runtime")

#: Seconds to back off after a poll raised, so a broken connection doesn't spin the CPU.
ERROR_BACKOFF = 1.0


@dataclass(frozen=True)
class RenewRequest:
    """``extend_lock`` from a running job, for the owner thread to send."""

    record: ReceivedRecord


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
        self.limits = limits or GroupLimits(share_group.route.record_lock_duration_ms, 5)
        self.share_group = share_group
        self.index = index
        self.factory = factory
        self.stop_event = stop_event
        self.bus = bus
        self.poll_timeout = poll_timeout
        self.commit_timeout = commit_timeout
        self.client_id = f"{socket.gethostname()}-{os.getpid()}-{share_group.name}-{index}"
        self.workers = share_group.workers_per_consumer
        self.max_messages_per_job = share_group.max_messages_per_job
        self.topics = share_group.topics
        self.intake = RecordIntake(share_group.name, bus)
        self.machine = StateMachine()
        #: Set by the runner before it stops polling in quiet mode (SIGTSTP).
        self.quiet_requested = False
        #: Why the thread died (``failed``), for the runner's report and restart.
        self.failure: BaseException | None = None
        #: ``time.monotonic()`` of the first poll of a run of failed polls (None: polls work).
        self.poll_failing_since: float | None = None
        self.leases = LeaseTracker(self.name)
        #: Jobs running now, for the shutdown report.
        self.running: dict[int, str] = {}
        self.startup_error: BaseException | None = None
        self.started_consuming = threading.Event()
        self._window_started = time.monotonic()
        self._window_records = 0
        self.pool: WorkerPool | None = None
        #: Consumer instances of the listener thread itself (one per topic).
        self.inline_consumers: dict[str, ShareGroupConsumer] = {}
        self.delayed = DelayedReleases(share_group.max_delayed_releases)
        self.renews = False
        self.sizer: AcquisitionSizer | None = None
        self.client_name = factory.client_class.name

    @property
    def current_job(self) -> str | None:
        return "; ".join(self.running.values()) or None

    @property
    def state(self) -> ListenerState:
        return self.machine.state

    @property
    def live(self) -> bool:
        """Serving its group: the thread runs, has not failed and its polls work."""
        return self.is_alive() and self.machine.live and self.poll_failing_since is None

    @property
    def failure_reason(self) -> str | None:
        if self.failure is not None:
            return f"{type(self.failure).__name__}: {self.failure}"
        if self.poll_failing_since is not None:
            return "polls fail"
        return None

    # -- thread body ---------------------------------------------------------------------------

    def run(self) -> None:
        try:
            client = self._create_client()
        except Exception as exc:
            self.startup_error = exc
            self._fail(exc)
            self.started_consuming.set()
            return
        self.bus.publish(
            "consumer.started", share_group=self.share_group.name, client_id=self.client_id
        )
        self.machine.to(ListenerState.RUNNING)
        self.started_consuming.set()
        self.renews = client.supports(Capability.RENEW)
        self.sizer = AcquisitionSizer(
            workers=self.workers,
            max_messages_per_job=self.max_messages_per_job,
            lock_ms=self._lock_duration_ms(client),
            renewing=self.renews and all(t.auto_renew for t in self.topics.values()),
        )
        self._report_acquisition()
        # With RENEW the owner thread must stay free to renew while jobs run: use a pool.
        self.pool = (
            WorkerPool(self.workers, self.name, self._run_job, self.stop_event)
            if self.workers > 1 or self.renews
            else None
        )
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

    def _create_client(self) -> ShareConsumerClient:
        # Adapters with a strict record limit get each poll's size; librdkafka only reads
        # max.poll.records at creation (and as a hint): the per-poll bound, unless declared.
        overrides: dict[str, Any] = {
            "max.poll.records": MAX_RECORDS_PER_POLL,
            **self.share_group.kafka,
        }
        client = self.factory.create(
            self.share_group.name, client_id=self.client_id, overrides=overrides
        )
        client.subscribe(self.share_group.topic_names)
        return client

    def _loop(self, client: ShareConsumerClient) -> None:
        interval = self.share_group.poll_interval_ms / 1000
        holds_across_polls = client.supports(Capability.HOLD_ACROSS_POLLS)
        while not self.stop_event.is_set():
            self._housekeeping(client)
            busy = self.pool is not None and (
                self.pool.free_slots() == 0 or (self.pool.in_flight and not holds_across_polls)
            )
            if busy or (self.delayed and not holds_across_polls):
                # librdkafka: every record of a poll is acknowledged before the next poll
                self._wait(client)
                continue
            capacity = self._throttled_capacity()
            if capacity == 0:
                continue
            polled_at = datetime.now(tz=UTC)
            try:
                records = client.poll(capacity, self.poll_timeout)
                self.poll_failing_since = None
            except Exception as exc:
                if self.poll_failing_since is None:
                    self.poll_failing_since = time.monotonic()
                self.bus.publish(
                    "consumer.error",
                    share_group=self.share_group.name,
                    error=f"poll failed: {exc}",
                    exception=exc,
                )
                self.stop_event.wait(ERROR_BACKOFF)
                continue
            self._window_records += len(records)
            self.bus.publish(
                "poll", share_group=self.share_group.name, records=len(records), asked=capacity
            )
            if len(records) > capacity:
                self.bus.publish(
                    "acquisition.exceeded",
                    share_group=self.share_group.name,
                    asked=capacity,
                    received=len(records),
                    client=self.client_name,
                )
            self._report_failures(client.take_acknowledgement_failures())
            if records:
                self.leases.acquired(records, self._lock_duration_ms(client), polled_at.timestamp())
                self._dispatch(client, records, polled_at)
                if interval:
                    client.commit_async()
            if interval:
                self.stop_event.wait(interval)

    def _lock_duration_ms(self, client: ShareConsumerClient) -> int | None:
        lock_ms = client.acquisition_lock_timeout_ms() or self.limits.record_lock_duration_ms
        if lock_ms and self.sizer is not None:
            self.sizer.lock_ms = lock_ms
        return lock_ms

    def _wait(self, client: ShareConsumerClient) -> None:
        """Sleep until a job finishes, a request arrives or something falls due."""
        timeout = self.poll_timeout
        for due in (self.delayed.next_due(), self._next_renewal(client)):
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
        renewed = self._renew_due(client)
        released = self._release_due(client, time.time())
        if renewed or released:
            client.commit_async()

    def _handle(self, client: ShareConsumerClient, items: list) -> None:
        for item in items:
            if isinstance(item, WorkerFailure):
                raise item.error
            if isinstance(item, RenewRequest):
                self._renew(client, item.record)
            else:
                self._apply(client, item)
        if any(isinstance(item, RenewRequest) for item in items):
            client.commit_async()

    # -- lock renewal (adapters with RENEW) --------------------------------------------------

    def _renewable(self) -> list:
        """Held leases to keep alive: auto-renew topics, and records held for a delayed release."""
        delayed = self.delayed.coordinates()
        return [
            lease
            for lease in self.leases.current_leases
            if lease.deadline is not None
            and (lease.coordinates in delayed or self.topics[lease.topic].auto_renew)
        ]

    def _renew_at(self, lease, lock_ms: int) -> float:
        fraction = self.topics[lease.topic].renew_fraction
        return lease.deadline - lock_ms / 1000 * (1 - fraction)

    def _next_renewal(self, client: ShareConsumerClient) -> float | None:
        lock_ms = self._lock_duration_ms(client)
        if not self.renews or not lock_ms:
            return None
        times = [self._renew_at(lease, lock_ms) for lease in self._renewable()]
        return min(times) if times else None

    def _renew_due(self, client: ShareConsumerClient) -> int:
        lock_ms = self._lock_duration_ms(client)
        if not self.renews or not lock_ms:
            return 0
        now = time.time()
        due = [lease for lease in self._renewable() if self._renew_at(lease, lock_ms) <= now]
        for lease in due:
            self._renew(client, lease.record)
        return len(due)

    def _renew(self, client: ShareConsumerClient, record: ReceivedRecord) -> None:
        coordinates = (record.topic, record.partition, record.offset)
        if self.leases.get(coordinates) is None:
            return  # acknowledged meanwhile
        client.acknowledge(record, AcknowledgeType.RENEW)
        lock_ms = self._lock_duration_ms(client)
        if lock_ms:
            self.leases.renewed(coordinates, lock_ms, time.time())
        self.bus.publish(
            "lock.renewed", share_group=self.share_group.name, record=describe_record(record)
        )

    def _request_renew(self, message: Message) -> None:
        """``extend_lock``: the job's thread asks the owner thread to RENEW."""
        if not self.renews:
            raise NotSupportedError(
                f"extend_lock() needs RENEW, which the '{self.client_name}' client adapter "
                "cannot send (librdkafka has no KIP-1222 yet); use the 'native' adapter."
            )
        if self.pool is None:  # cannot happen: adapters with RENEW always get a pool
            raise NotSupportedError("extend_lock() needs a worker pool")
        self.pool.post(RenewRequest(message.record))

    # -- delayed release ---------------------------------------------------------------------

    def _hold_for_release(self, client: ShareConsumerClient, message: Message, delay_ms: int):
        now = time.time()
        release_at = now + delay_ms / 1000
        lease = self.leases.get(message.coordinates)
        if not self.renews:
            latest = self._latest_release(lease, client)
            if release_at > latest:
                self.bus.publish(
                    "release.clamped",
                    share_group=self.share_group.name,
                    record=describe([message]),
                    asked_ms=delay_ms,
                    honoured_ms=max(0, int((latest - now) * 1000)),
                )
                release_at = latest
        if self.delayed.full():
            self.bus.publish(
                "release.overflow", share_group=self.share_group.name, record=describe([message])
            )
            self._release(client, message)
            return
        self.delayed.add(message, release_at)
        self.bus.publish(
            "release.delayed",
            share_group=self.share_group.name,
            record=describe([message]),
            delay_ms=int((release_at - now) * 1000),
        )

    def _latest_release(self, lease, client: ShareConsumerClient) -> float:
        """Without RENEW a held record must be released before its lock runs out."""
        lock_ms = self._lock_duration_ms(client)
        if lease is None or lease.deadline is None or not lock_ms:
            return time.time()
        margin = min(1.0, lock_ms / 1000 * 0.1)
        return lease.deadline - margin

    def _release_due(self, client: ShareConsumerClient, now: float) -> int:
        due = self.delayed.pop_due(now)
        for entry in due:
            self._release(client, entry.message)
        return len(due)

    def _release(self, client: ShareConsumerClient, message: Message) -> None:
        self._acknowledge(client, message.record, AcknowledgeType.RELEASE)

    def _report_acquisition(self) -> None:
        report = self.sizer.report_due()
        if report is not None:
            self.bus.publish(
                "acquisition.sized",
                share_group=self.share_group.name,
                records=report.records,
                ms_per_record=(
                    None
                    if report.seconds_per_record is None
                    else round(report.seconds_per_record * 1000, 3)
                ),
                lock_ms=report.lock_ms,
                workers=report.workers,
                renewing=report.renewing,
            )

    def _throttled_capacity(self) -> int:
        """Records this poll may ask for (see processing/acquisition.py), within the throttle."""
        free = self.pool.free_slots() if self.pool is not None else 1
        capacity = self.sizer.records_for(free)
        throttle = self.share_group.throttle
        if not throttle:
            return capacity
        interval = throttle.interval_ms / 1000
        elapsed = time.monotonic() - self._window_started
        if elapsed >= interval:
            self._window_started, self._window_records = time.monotonic(), 0
        left = throttle.limit - self._window_records
        if left <= 0:
            self.bus.publish("throttled", share_group=self.share_group.name)
            self.stop_event.wait(max(0.0, interval - elapsed))
            return 0
        return min(capacity, left)

    def _finish_in_flight(self, client: ShareConsumerClient) -> None:
        """Stopping: let running jobs finish (jobs not started yet come back unstarted), then
        release every delayed release at once."""
        while self.pool is not None and self.pool.in_flight:
            self._handle(client, self.pool.wait(0.2))
            self._renew_due(client)
        for entry in self.delayed.drain():
            self._release(client, entry.message)

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
        for consumer in self.inline_consumers.values():
            try:
                consumer.shutdown()
            except Exception:
                logger.exception("%s: %r.shutdown() failed", self.name, consumer)
        try:
            client.close()
        except Exception:
            logger.exception("%s: closing the client failed", self.name)
        connections.close_all()
        self.bus.publish(
            "consumer.stopped", share_group=self.share_group.name, client_id=self.client_id
        )

    # -- processing ----------------------------------------------------------------------------

    def _dispatch(
        self, client: ShareConsumerClient, records: Sequence[ReceivedRecord], polled_at: datetime
    ) -> None:
        by_topic: dict[str, list[ReceivedRecord]] = {}
        for record in records:
            by_topic.setdefault(record.topic, []).append(record)
        for topic_name, topic_records in by_topic.items():
            intake = self.intake.take(self.topics[topic_name], topic_records, polled_at)
            for record, ack_type, reason in intake.settled:
                self._acknowledge(client, record, ack_type, reason)
            for job, acknowledgements in intake.failed:
                self._apply(client, JobResult(job, acknowledgements))
            for job in intake.jobs:
                if self.pool is not None:
                    self.pool.submit(job)
                elif self.stop_event.is_set():
                    self._apply(client, JobResult(job, None))
                else:
                    self._apply(client, JobResult(job, self._run_job(job, self.inline_consumers)))

    def _run_job(self, job: Job, consumers: dict[str, ShareGroupConsumer]) -> JobAcknowledgements:
        """Runs in the listener thread or a worker; ``consumers`` belong to that thread."""
        topic = job.topic
        consumer = consumers.get(topic.name)
        if consumer is None:
            try:
                consumer = consumers[topic.name] = topic.consumer_class(
                    self.share_group.route, topic.route, producer=self.factory.producer
                )
            except Exception as exc:  # settle the job like a failed consume()
                return self.intake.fail(job, "creating the consumer", exc)
        key = threading.get_ident()
        self.running[key] = (
            f"{type(consumer).__name__}({describe(job.messages)}) since {time.strftime('%X')}"
        )
        try:
            return execute_job(
                consumer,
                job.messages,
                self.bus,
                implicit=topic.implicit,
                leases=self.leases,
                polled_at=job.polled_at,
                partition_scoped=topic.partition_scoped,
                on_renew=self._request_renew,
            )
        finally:
            self.running.pop(key, None)

    def _apply(self, client: ShareConsumerClient, result: JobResult) -> None:
        """Hand a job's acknowledgements to the client (owner thread only): failed records at
        their retry limit go to the DLQ, delayed releases are held, the rest acknowledged."""
        acknowledgements = result.acknowledgements
        if acknowledgements is None:  # not started: back to the group untouched
            for message in result.job.messages:
                self._acknowledge(client, message.record, AcknowledgeType.RELEASE)
            return
        if acknowledgements.started:
            self.sizer.job_finished(acknowledgements.started, acknowledgements.seconds)
            self._report_acquisition()
        dlq = result.job.topic.dead_letter_queue
        counts: dict[str, int] = {}
        for message, ack_type in acknowledgements.items():
            key = message.coordinates
            if key in acknowledgements.lapsed:
                self._lapsed(client, message, ack_type)
                continue
            if dlq and (
                key in acknowledgements.dead_letters
                or (
                    ack_type is AcknowledgeType.RELEASE
                    and message.delivery_count >= dlq.max_retries
                )
            ):
                error = acknowledgements.dead_letters.get(key) or acknowledgements.error
                ack_type = self._dead_letter(client, message, dlq.topic, error)
            elif key in acknowledgements.delays:
                self._hold_for_release(client, message, acknowledgements.delays[key])
                counts["RELEASE_DELAYED"] = counts.get("RELEASE_DELAYED", 0) + 1
                continue
            else:
                self._acknowledge(client, message.record, ack_type, acknowledgements.error)
            counts[ack_type.name] = counts.get(ack_type.name, 0) + 1
        self.bus.publish("acks.sent", share_group=self.share_group.name, counts=counts)

    def _dead_letter(
        self,
        client: ShareConsumerClient,
        message: Message,
        dlq_topic: str,
        error: BaseException | str | None,
    ) -> AcknowledgeType:
        """Copy to the DLQ and REJECT; if the DLQ does not take it, RELEASE (never lose it)."""
        try:
            partition, offset = dead_letter.dispatch(
                self.factory.producer(), dlq_topic, message, self.share_group.name, error
            )
        except ProduceError as exc:
            self.bus.publish(
                "dlq.failed",
                share_group=self.share_group.name,
                record=describe([message]),
                dlq_topic=dlq_topic,
                error=str(exc),
            )
            self._acknowledge(client, message.record, AcknowledgeType.RELEASE)
            return AcknowledgeType.RELEASE
        self.bus.publish(
            "dlq.dispatched",
            share_group=self.share_group.name,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.raw_key,
            headers=list(message.raw_headers),
            payload=message.raw_payload,
            delivery_count=message.delivery_count,
            error_class=type(error).__qualname__ if isinstance(error, BaseException) else None,
            error_message=str(error) if error is not None else None,
            dlq_topic=dlq_topic,
            dlq_partition=partition,
            dlq_offset=offset,
        )
        self._acknowledge(client, message.record, AcknowledgeType.REJECT, error)
        return AcknowledgeType.REJECT

    def _lapsed(self, client: ShareConsumerClient, message: Message, ack_type) -> None:
        """The lock ran out first: the broker decides; at the limit it archives the record."""
        self._acknowledge(client, message.record, ack_type, observe=False)
        if message.delivery_count >= self.limits.delivery_count_limit:
            self._archived(message.record, "lock_expiry_at_limit", None)

    def _acknowledge(
        self,
        client: ShareConsumerClient,
        record: ReceivedRecord,
        ack_type: AcknowledgeType,
        error: BaseException | str | None = None,
        observe: bool = True,
    ) -> None:
        client.acknowledge(record, ack_type)
        self.leases.settled((record.topic, record.partition, record.offset))
        if not observe:
            return
        if ack_type is AcknowledgeType.REJECT:
            self._archived(record, "rejected", error)
        elif (
            ack_type is AcknowledgeType.RELEASE
            and record.delivery_count >= self.limits.delivery_count_limit
        ):
            self._archived(record, "delivery_limit", error)

    def _archived(self, record: ReceivedRecord, reason: str, error) -> None:
        """Poison-record observer: the broker archives this record now."""
        self.bus.publish(
            "record.archived",
            share_group=self.share_group.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            delivery_count=record.delivery_count,
            reason=reason,
            error=None
            if error is None
            else f"{type(error).__name__}: {error}"
            if isinstance(error, BaseException)
            else str(error),
        )

    def _report_failures(self, failures) -> None:
        if failures:
            self.bus.publish("acks.failed", share_group=self.share_group.name, failures=failures)


def describe_record(record: ReceivedRecord) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
