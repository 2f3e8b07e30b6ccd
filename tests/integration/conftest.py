"""Helpers for tests that run share groups against a real broker."""

from __future__ import annotations

import threading

import pytest

# One implementation each, in tests/helpers.py; the names stay importable from here.
from ..helpers import produce as produce_json  # noqa: F401
from ..helpers import running, wait_until  # noqa: F401


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
