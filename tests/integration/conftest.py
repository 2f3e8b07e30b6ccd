"""Helpers for tests that run share groups against a real broker."""

from __future__ import annotations

import contextlib
import json
import threading

import pytest
from confluent_kafka import Producer

from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.runtime.runner import ShareConsumerRunner

from ..helpers import wait_until  # noqa: F401 - re-exported for the tests here


def produce_json(bootstrap: str, topic: str, payloads, key=None, one_batch=False) -> None:
    """Produce ``payloads`` as JSON. ``one_batch=True``: in one producer batch whatever the
    machine's load (the producer lingers until the flush, and knows the partitions first so
    no record waits for metadata alone) — Kafka acquires whole batches."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 10_000 if one_batch else 5})
    producer.list_topics(topic, timeout=10)
    for payload in payloads:
        producer.produce(topic, json.dumps(payload).encode(), key=key)
    assert producer.flush(30) == 0


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
def share_topic(kafka_topic, share_group_config):
    """``share_topic(partitions, **group_configs)``: a fresh topic and a share group of the
    same name reading it from the earliest offset; ``share_delivery_count_limit=3`` sets
    ``share.delivery.count.limit``."""

    def make(partitions: int = 1, **group_configs):
        name = kafka_topic(partitions, prefix="it")
        configs = {key.replace("_", "."): value for key, value in group_configs.items()}
        share_group_config(name, {"share.auto.offset.reset": "earliest", **configs})
        return name

    return make
