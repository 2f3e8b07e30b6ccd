"""Run share groups on an in-memory broker inside the test process."""

from __future__ import annotations

import contextlib
import json
import threading

import pytest

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.clients.memory import MemoryBroker, MemoryClientFactory
from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.instrumentation.logging_listener import log_event
from django_sharegroups.runtime.runner import ShareConsumerRunner

from ..helpers import declare  # noqa: F401 - re-exported for the tests here


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker(config={"group.share.min.record.lock.duration.ms": 1000})


def produce(broker: MemoryBroker, topic_name: str, payloads, key=None) -> None:
    for payload in payloads:
        broker.produce(topic_name, json.dumps(payload).encode(), key=key)


def prepare(broker: MemoryBroker, name: str, partitions: int = 1, **configs) -> None:
    broker.create_topic(name, partitions)
    broker.alter_group_config(name, {"share.auto.offset.reset": "earliest", **configs})


@contextlib.contextmanager
def running(groups, broker: MemoryBroker, bus: EventBus | None = None, expect_exit: int = 0):
    """Run ``groups`` on ``broker``; every event is also formatted by the logging listener,
    which must not fail on any payload the runtime publishes."""
    bus = bus or EventBus()
    listener_failures: list[BaseException] = []

    def strict_log(event, payload):
        try:
            log_event(event, payload)
        except Exception as exc:
            listener_failures.append(exc)

    bus.subscribe("*", strict_log)
    runner = ShareConsumerRunner(
        groups,
        settings=ShareGroupsSettings(client="memory", poll_timeout=0.05, shutdown_timeout=15),
        factories={"memory": MemoryClientFactory(broker)},
        bus=bus,
    )
    runner.start()
    try:
        yield runner
    finally:
        assert runner.shutdown() == expect_exit
        assert listener_failures == []


class Recording(ShareGroupConsumer):
    """Accepts everything and records what it saw; subclass to change behaviour."""

    seen: list
    lock = threading.Lock()

    def consume(self, messages):
        for message in messages:
            with self.lock:
                type(self).seen.append(message)
            self.mark_accepted(message)


def recording_consumer():
    return type("Recorder", (Recording,), {"seen": []})


def events_of(bus: EventBus, name: str) -> list[dict]:
    captured: list[dict] = []
    bus.subscribe(name, lambda event, payload: captured.append(payload))
    return captured
