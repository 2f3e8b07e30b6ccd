"""The listener: one thread owning one share-consumer client, in a tight poll → process loop.

It polls only when it is free to process (the thread itself is the worker), so records are
never acquired ahead of capacity. Only this thread touches its client.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence

from django.db import connections

from ..clients.base import (
    AcknowledgeType,
    ReceivedRecord,
    ShareConsumerClient,
    ShareConsumerClientFactory,
)
from ..consumer import ShareGroupConsumer
from ..instrumentation import EventBus
from ..messages import DeserializationError, Message
from ..processing.executor import describe, execute_job
from ..processing.jobs_builders import resolve_jobs_builder
from ..routing import ShareGroup, Topic

logger = logging.getLogger("django_sharegroups.runtime")

#: Seconds to back off after a poll raised, so a broken connection doesn't spin the CPU.
ERROR_BACKOFF = 1.0


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
        self.max_records = max(t.max_messages_per_job for t in share_group.topics)
        #: Description of the job being processed, for the shutdown report.
        self.current_job: str | None = None
        self.startup_error: BaseException | None = None
        self.started_consuming = threading.Event()

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
        consumers = {
            t.name: t.consumer_class()(self.share_group, t) for t in self.share_group.topics
        }
        self.bus.publish(
            "consumer.started", share_group=self.share_group.name, client_id=self.client_id
        )
        self.started_consuming.set()
        try:
            self._loop(client, consumers)
        finally:
            self._close(client, consumers)

    def _create_client(self) -> ShareConsumerClient:
        overrides = {**self.share_group.kafka, "max.poll.records": self.max_records}
        client = self.factory.create(
            self.share_group.name, client_id=self.client_id, overrides=overrides
        )
        client.subscribe(self.share_group.topic_names)
        return client

    def _loop(self, client: ShareConsumerClient, consumers: dict[str, ShareGroupConsumer]):
        interval = self.share_group.poll_interval_ms / 1000
        while not self.stop_event.is_set():
            try:
                records = client.poll(self.max_records, self.poll_timeout)
            except Exception as exc:
                self.bus.publish(
                    "consumer.error",
                    share_group=self.share_group.name,
                    error=f"poll failed: {exc}",
                    exception=exc,
                )
                self.stop_event.wait(ERROR_BACKOFF)
                continue
            self.bus.publish("poll", share_group=self.share_group.name, records=len(records))
            self._report_failures(client.take_acknowledgement_failures())
            if records:
                self._process(client, consumers, records)
                if interval:
                    client.commit_async()
            if interval:
                self.stop_event.wait(interval)

    def _close(self, client: ShareConsumerClient, consumers: dict[str, ShareGroupConsumer]):
        try:
            self._report_failures(client.commit_sync(self.commit_timeout))
        except Exception as exc:
            logger.exception("%s: final commit failed: %s", self.name, exc)
        for consumer in consumers.values():
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

    def _process(
        self,
        client: ShareConsumerClient,
        consumers: dict[str, ShareGroupConsumer],
        records: Sequence[ReceivedRecord],
    ) -> None:
        by_topic: dict[str, list[ReceivedRecord]] = {}
        for record in records:
            by_topic.setdefault(record.topic, []).append(record)
        for topic_name, topic_records in by_topic.items():
            route = self.share_group.topic(topic_name)
            messages = self._deserialize(client, route, topic_records)
            jobs = resolve_jobs_builder(route.jobs_builder)(messages, route.max_messages_per_job)
            for job in jobs:
                self._run_job(client, consumers[topic_name], job)

    def _deserialize(
        self, client: ShareConsumerClient, route: Topic, records: Sequence[ReceivedRecord]
    ) -> list[Message]:
        deserializer = route.deserialize()
        messages = []
        for record in records:
            try:
                messages.append(Message.deserialize(record, deserializer))
            except DeserializationError as exc:
                ack_type = AcknowledgeType[route.on_deserialization_error.upper()]
                client.acknowledge(record, ack_type)
                self.bus.publish(
                    "record.undeserializable",
                    share_group=self.share_group.name,
                    record=f"{record.topic}[{record.partition}]@{record.offset}",
                    error=str(exc),
                    action=ack_type.name,
                )
        return messages

    def _run_job(
        self, client: ShareConsumerClient, consumer: ShareGroupConsumer, job: list[Message]
    ) -> None:
        if self.stop_event.is_set():
            # Stopping: jobs not started yet go back to the group untouched.
            for message in job:
                client.acknowledge(message.record, AcknowledgeType.RELEASE)
            return
        self.current_job = f"{type(consumer).__name__}({describe(job)}) since {time.strftime('%X')}"
        acknowledgements = execute_job(consumer, job, self.bus)
        self.current_job = None
        for message, ack_type in acknowledgements.items():
            client.acknowledge(message.record, ack_type)
        self.bus.publish(
            "acks.sent", share_group=self.share_group.name, counts=acknowledgements.counts()
        )

    def _report_failures(self, failures) -> None:
        if failures:
            self.bus.publish("acks.failed", share_group=self.share_group.name, failures=failures)
