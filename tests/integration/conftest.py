"""Helpers for tests that run share groups against a real broker."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.runtime.runner import ShareConsumerRunner


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(bootstrap: str, name: str, partitions: int) -> str:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)
    return name


def set_group_config(bootstrap: str, group: str, **configs: str | int) -> None:
    """Set share-group configs, e.g. ``share_auto_offset_reset="earliest"``."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    entries = [
        ConfigEntry(key.replace("_", "."), str(value), incremental_operation=AlterConfigOpType.SET)
        for key, value in configs.items()
    ]
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=entries)
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(30)


def produce_json(bootstrap: str, topic: str, payloads, key=None) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for payload in payloads:
        producer.produce(topic, json.dumps(payload).encode(), key=key)
    assert producer.flush(30) == 0


def wait_until(condition, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


@contextlib.contextmanager
def running(groups, bootstrap: str, **settings):
    """Run share groups in this process on the confluent adapter; stop cleanly on exit."""
    runner = ShareConsumerRunner(
        groups,
        settings=ShareGroupsSettings(
            client="confluent", kafka={"bootstrap.servers": bootstrap}, **settings
        ),
    )
    runner.start()
    try:
        yield runner
    finally:
        exit_code = runner.shutdown()
        assert exit_code == 0, f"runner stopped with exit code {exit_code}"


class Collector:
    """Thread-safe record of what consumers saw: (topic, partition, offset, delivery_count)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple] = []

    def add(self, message) -> None:
        with self.lock:
            self.seen.append((*message.coordinates, message.delivery_count, message.payload))

    def offsets(self) -> list[tuple[int, int]]:
        with self.lock:
            return [(partition, offset) for _, partition, offset, *_ in self.seen]

    def __len__(self) -> int:
        with self.lock:
            return len(self.seen)


@pytest.fixture
def share_topic(kafka_bootstrap_servers):
    """A fresh topic and a fresh share group reading it from the earliest offset."""

    def make(partitions: int = 1, **group_configs):
        name = unique("it")
        create_topic(kafka_bootstrap_servers, name, partitions)
        set_group_config(
            kafka_bootstrap_servers, name, share_auto_offset_reset="earliest", **group_configs
        )
        return name

    return make
