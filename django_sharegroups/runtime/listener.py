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

from django.db import connections

from ..clients.base import (
    AcknowledgeType,
    Capability,
    ReceivedRecord,
    ShareConsumerClient,
    ShareConsumerClientFactory,
)
from ..consumer import ShareGroupConsumer
from ..instrumentation import EventBus
from ..messages import DeserializationError, Deserializers, Message
from ..processing.acknowledgements import JobAcknowledgements
from ..processing.executor import describe, execute_job
from ..processing.jobs_builders import resolve_jobs_builder
from ..processing.leases import LeaseTracker
from ..routing import ShareGroup, Topic
from .workers import JobResult, WorkerPool

logger = logging.getLogger("django_sharegroups.runtime")

#: Seconds to back off after a poll raised, so a broken connection doesn't spin the CPU.
ERROR_BACKOFF = 1.0


@dataclass(frozen=True)
class TopicRuntime:
    """What the listener needs per topic, resolved once at startup."""

    route: Topic
    deserializers: Deserializers
    build_jobs: object
    implicit: bool
    partition_scoped: bool

    @classmethod
    def for_route(cls, route: Topic) -> TopicRuntime:
        return cls(
            route=route,
            deserializers=Deserializers.for_topic(route),
            build_jobs=resolve_jobs_builder(route.jobs_builder),
            implicit=route.acknowledgement_mode() == "implicit",
            partition_scoped=route.jobs_builder == "per_partition",
        )


@dataclass(frozen=True)
class Job:
    topic: TopicRuntime
    messages: list[Message]
    polled_at: datetime


class ShareGroupListener(threading.Thread):
    """Runs one share-consumer instance (``index`` of the group's ``concurrency``)."""

    def __init__(
        self,
        share_group: ShareGroup,
        index: int,
        factory: ShareConsumerClientFactory,
        *,
        stop_event: threading.Event,
        bus: EventBus,
        poll_timeout: float,
        commit_timeout: float,
    ) -> None:
        super().__init__(name=f"sharegroups:{share_group.name}:{index}", daemon=True)
        self.share_group = share_group
        self.index = index
        self.factory = factory
        self.stop_event = stop_event
        self.bus = bus
        self.poll_timeout = poll_timeout
        self.commit_timeout = commit_timeout
        self.client_id = f"{socket.gethostname()}-{os.getpid()}-{share_group.name}-{index}"
        self.workers = share_group.workers_per_consumer
        self.max_messages_per_job = max(t.max_messages_per_job for t in share_group.topics)
        self.topics = {t.name: TopicRuntime.for_route(t) for t in share_group.topics}
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

    @property
    def current_job(self) -> str | None:
        return "; ".join(self.running.values()) or None

    # -- thread body ---------------------------------------------------------------------------

    def run(self) -> None:
        try:
            client = self._create_client()
        except Exception as exc:
            self.startup_error = exc
            self.bus.publish(
                "consumer.error", share_group=self.share_group.name, error=exc, exception=exc
            )
            self.started_consuming.set()
            return
        self.bus.publish(
            "consumer.started", share_group=self.share_group.name, client_id=self.client_id
        )
        self.started_consuming.set()
        self.pool = (
            WorkerPool(self.workers, self.name, self._run_job, self.stop_event)
            if self.workers > 1
            else None
        )
        try:
            self._loop(client)
            self._finish_in_flight(client)
        finally:
            self._close(client)

    def _create_client(self) -> ShareConsumerClient:
        overrides = {
            **self.share_group.kafka,
            "max.poll.records": self.workers * self.max_messages_per_job,
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
            if self.pool is not None:
                self._apply_results(client, self.pool.drain())
                if self.pool.free_slots() == 0 or (self.pool.in_flight and not holds_across_polls):
                    self._apply_results(client, self.pool.wait(self.poll_timeout))
                    continue
            capacity = self._throttled_capacity()
            if capacity == 0:
                continue
            polled_at = datetime.now(tz=UTC)
            try:
                records = client.poll(capacity, self.poll_timeout)
            except Exception as exc:
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
            self._report_failures(client.take_acknowledgement_failures())
            if records:
                self.leases.acquired(records, self._lock_duration_ms(client), polled_at.timestamp())
                self._dispatch(client, records, polled_at)
                if interval:
                    client.commit_async()
            if interval:
                self.stop_event.wait(interval)

    def _lock_duration_ms(self, client: ShareConsumerClient) -> int | None:
        return client.acquisition_lock_timeout_ms() or self.share_group.record_lock_duration_ms

    def _throttled_capacity(self) -> int:
        """Records this poll may ask for: free workers × job size, within the throttle."""
        free = self.pool.free_slots() if self.pool is not None else 1
        capacity = free * self.max_messages_per_job
        throttle = self.share_group.throttle
        if not throttle:
            return capacity
        interval = throttle["interval"] / 1000
        elapsed = time.monotonic() - self._window_started
        if elapsed >= interval:
            self._window_started, self._window_records = time.monotonic(), 0
        left = throttle["limit"] - self._window_records
        if left <= 0:
            self.bus.publish("throttled", share_group=self.share_group.name)
            self.stop_event.wait(max(0.0, interval - elapsed))
            return 0
        return min(capacity, left)

    def _finish_in_flight(self, client: ShareConsumerClient) -> None:
        """Stopping: let running jobs finish; jobs not started yet come back unstarted."""
        if self.pool is None:
            return
        while self.pool.in_flight:
            self._apply_results(client, self.pool.wait(0.2))

    def _close(self, client: ShareConsumerClient) -> None:
        if self.pool is not None:
            self.pool.close()
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
            topic = self.topics[topic_name]
            messages = self._filter(client, topic, self._deserialize(client, topic, topic_records))
            for job_messages in topic.build_jobs(messages, topic.route.max_messages_per_job):
                job = Job(topic, job_messages, polled_at)
                if self.pool is not None:
                    self.pool.submit(job)
                elif self.stop_event.is_set():
                    self._apply(client, JobResult(job, None))
                else:
                    self._apply(client, JobResult(job, self._run_job(job, self.inline_consumers)))

    def _deserialize(
        self, client: ShareConsumerClient, topic: TopicRuntime, records: Sequence[ReceivedRecord]
    ) -> list[Message]:
        messages = []
        for record in records:
            try:
                messages.append(Message.deserialize(record, topic.deserializers))
            except DeserializationError as exc:
                ack_type = AcknowledgeType[topic.route.on_deserialization_error.upper()]
                self._acknowledge(client, record, ack_type)
                self.bus.publish(
                    "record.undeserializable",
                    share_group=self.share_group.name,
                    record=f"{record.topic}[{record.partition}]@{record.offset}",
                    error=str(exc),
                    action=ack_type.name,
                )
        return messages

    def _filter(
        self, client: ShareConsumerClient, topic: TopicRuntime, messages: list[Message]
    ) -> list[Message]:
        keep = topic.route.filter
        if keep is None:
            return messages
        kept, dropped = [], []
        for message in messages:
            (kept if keep(message) else dropped).append(message)
        for message in dropped:
            self._acknowledge(client, message.record, AcknowledgeType.ACCEPT)
        if dropped:
            self.bus.publish(
                "records.filtered",
                share_group=self.share_group.name,
                topic=topic.route.name,
                count=len(dropped),
            )
        return kept

    def _run_job(self, job: Job, consumers: dict[str, ShareGroupConsumer]) -> JobAcknowledgements:
        """Runs in the listener thread or a worker; ``consumers`` belong to that thread."""
        route = job.topic.route
        consumer = consumers.get(route.name)
        if consumer is None:
            consumer = consumers[route.name] = route.consumer_class()(self.share_group, route)
        key = threading.get_ident()
        self.running[key] = (
            f"{type(consumer).__name__}({describe(job.messages)}) since {time.strftime('%X')}"
        )
        try:
            return execute_job(
                consumer,
                job.messages,
                self.bus,
                implicit=job.topic.implicit,
                leases=self.leases,
                polled_at=job.polled_at,
                partition_scoped=job.topic.partition_scoped,
            )
        finally:
            self.running.pop(key, None)

    def _apply_results(self, client: ShareConsumerClient, results: list[JobResult]) -> None:
        for result in results:
            self._apply(client, result)

    def _apply(self, client: ShareConsumerClient, result: JobResult) -> None:
        """Hand a job's acknowledgements to the client (owner thread only)."""
        if result.acknowledgements is None:  # not started: back to the group untouched
            for message in result.job.messages:
                self._acknowledge(client, message.record, AcknowledgeType.RELEASE)
            return
        for message, ack_type in result.acknowledgements.items():
            self._acknowledge(client, message.record, ack_type)
        self.bus.publish(
            "acks.sent",
            share_group=self.share_group.name,
            counts=result.acknowledgements.counts(),
        )

    def _acknowledge(
        self, client: ShareConsumerClient, record: ReceivedRecord, ack_type: AcknowledgeType
    ) -> None:
        client.acknowledge(record, ack_type)
        self.leases.settled((record.topic, record.partition, record.offset))

    def _report_failures(self, failures) -> None:
        if failures:
            self.bus.publish("acks.failed", share_group=self.share_group.name, failures=failures)
