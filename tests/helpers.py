"""Small helpers shared by test packages."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from django_sharegroups import share_group, topic
from django_sharegroups.routing import RouteRegistry


def declare(name: str, consumer, *, topic_options=None, **group_options):
    """A share group named like its one topic, kept out of the project's registry."""
    return share_group(
        name,
        topics=[topic(name, consumer=consumer, **(topic_options or {}))],
        registry=RouteRegistry(),
        **group_options,
    )


def settled(broker, group: str, partitions: int = 1) -> bool:
    """On a ``MemoryBroker``: every record of the topic named like ``group`` reached a final
    state (accepted or archived) and none is held — nothing can be delivered any more."""
    offsets = broker.share_group_offsets(group)
    keys = [(group, p) for p in range(partitions)]
    return all(k in offsets and offsets[k].lag == 0 for k in keys) and not (
        broker.acquired_count(group)
    )


def kafka_settled(bootstrap_servers: str, group: str) -> bool:
    """On Kafka: the share group's lag is 0 on every partition that has records — each was
    accepted or archived, so nothing can be delivered again (the broker's own answer, which
    replaces "sleep and see whether something comes back")."""
    from django_sharegroups.kafka.admin import ShareGroupAdmin

    with ShareGroupAdmin({"bootstrap.servers": bootstrap_servers}) as admin:
        offsets = admin.share_group_offsets(group)
    return bool(offsets) and all(o.lag == 0 or o.log_end_offset == 0 for o in offsets)


T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 30.0, interval: float = 0.2) -> T:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout:g}s: {condition}")
        time.sleep(interval)


def wait_until(condition, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


class Deliveries:
    """Thread-safe log of what consumers saw: ``(payload, delivery_count, monotonic time)``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple] = []

    def add(self, message) -> None:
        with self.lock:
            self.items.append((message.payload, message.delivery_count, time.monotonic()))

    def of(self, n) -> list[tuple[int, float]]:
        """``(delivery_count, time)`` of the record whose payload has ``"n": n``."""
        return [(count, at) for payload, count, at in self.items if payload["n"] == n]

    def counts(self) -> list[tuple[int, int]]:
        """``(n, delivery_count)`` of every delivery, sorted."""
        return sorted((payload["n"], count) for payload, count, _ in self.items)
