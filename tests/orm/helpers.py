"""Helpers of the ORM tests: share groups on the in-memory broker, effects, pg_stat_activity."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter

from django.db import OperationalError

from django_sharegroups import ShareGroupConsumer, share_group, topic
from django_sharegroups.clients.base import ReceivedRecord
from django_sharegroups.clients.memory import MemoryBroker, MemoryClientFactory
from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.messages import Deserializers, Message
from django_sharegroups.routing import RouteRegistry
from django_sharegroups.runtime.runner import ShareConsumerRunner

from .models import Effect


def declare(name: str, consumer, *, topic_options=None, **group_options):
    """A share group named like its one topic, kept out of the project's registry."""
    return share_group(
        name,
        topics=[topic(name, consumer=consumer, **(topic_options or {}))],
        registry=RouteRegistry(),
        **group_options,
    )


def prepare(broker: MemoryBroker, name: str, partitions: int = 1, **configs) -> None:
    """Topic ``name`` and a share group of the same name reading it from the start."""
    broker.create_topic(name, partitions)
    broker.alter_group_config(name, {"share.auto.offset.reset": "earliest", **configs})


def produce(broker: MemoryBroker, name: str, count: int) -> None:
    for number in range(count):
        broker.produce(name, json.dumps({"n": number}).encode(), key=str(number).encode())


def wait_until(condition, timeout: float, interval: float = 0.02) -> bool:
    """Poll ``condition``; a locked SQLite table (shared-cache test DB) counts as "not yet"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except OperationalError:
            pass
        time.sleep(interval)
    return condition()


def settled(broker: MemoryBroker, name: str) -> bool:
    """Every record of topic ``name`` acknowledged (or archived) by group ``name``."""
    try:
        offsets = broker.share_group_offsets(name)
    except Exception:
        return False
    partitions = [key for key in offsets if key[0] == name]
    return (
        bool(partitions)
        and all(offsets[key].lag == 0 for key in partitions)
        and broker.acquired_count(name) == 0
    )


@contextlib.contextmanager
def running(groups, broker: MemoryBroker, *, bus=None, settings=None, factory=None):
    """Run share groups in this process on the memory broker; shut down cleanly on exit."""
    runner = ShareConsumerRunner(
        groups,
        settings=settings
        or ShareGroupsSettings(client="memory", poll_timeout=0.05, shutdown_timeout=15),
        factories={"memory": factory or MemoryClientFactory(broker)},
        bus=bus or EventBus(),
    )
    runner.start()
    try:
        yield runner
    finally:
        assert runner.shutdown() == 0


def record(topic_name: str, offset: int, partition: int = 0, delivery_count: int = 1):
    return ReceivedRecord(
        topic_name,
        partition,
        offset,
        key=None,
        value=json.dumps({"offset": offset}).encode(),
        delivery_count=delivery_count,
    )


def messages(route, offsets, partition: int = 0, delivery_count: int = 1) -> list[Message]:
    deserializers = Deserializers.for_topic(route)
    return [
        Message.deserialize(record(route.name, o, partition, delivery_count), deserializers)
        for o in offsets
    ]


def write_effect(share_group_name: str, message) -> Effect:
    return Effect.objects.create(
        share_group=share_group_name,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        delivery_count=message.delivery_count,
        thread=threading.current_thread().name,
    )


def duplicates(share_group_name: str) -> dict[tuple[int, int], int]:
    """(partition, offset) → effects, for records with more than one effect."""
    counts = Counter(
        Effect.objects.filter(share_group=share_group_name).values_list("partition", "offset")
    )
    return {key: count for key, count in counts.items() if count > 1}


class EffectConsumer(ShareGroupConsumer):
    """Writes one Effect row per message through the ORM, then ACCEPTs it."""

    def consume(self, messages):
        for message in messages:
            write_effect(self.share_group.name, message)
            self.mark_accepted(message)


def collect(bus: EventBus, name: str) -> list[dict]:
    captured: list[dict] = []
    bus.subscribe(name, lambda event, payload: captured.append(payload))
    return captured
