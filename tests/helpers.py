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


def wait_assigned(bootstrap: str, group: str, members: int, timeout: float = 120.0):
    """Wait until the broker shows ``members`` members of ``group``, each with a partition and
    at the group's assignment epoch; returns the group's description. Records produced before
    may all be acquired by the members that happened to join first."""
    from django_sharegroups.kafka import ShareGroupAdmin
    from django_sharegroups.kafka.errors import GroupIdNotFoundError

    with ShareGroupAdmin({"bootstrap.servers": bootstrap}) as admin:

        def assigned():
            try:
                description = admin.describe_share_group(group)
            except GroupIdNotFoundError:  # no member has reached the coordinator yet
                return False
            everyone = len(description.members) == members
            return (
                everyone
                and all(m.assigned_partitions for m in description.members)
                and (description)
            )

        return wait_for(assigned, timeout=timeout, interval=0.5)
