"""Fixtures for the in-memory broker tests: a hand-moved clock, ``manual_broker`` on it, members."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from django_sharegroups.clients.memory import (
    ManualClock,
    MemoryBroker,
    MemoryClientFactory,
    MemoryShareConsumer,
)

from .helpers import GROUP, TOPIC, MakeMember


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def manual_broker(clock: ManualClock) -> MemoryBroker:
    """A broker on the manual clock with a one-partition topic ``jobs``."""
    manual_broker = MemoryBroker(clock=clock)
    manual_broker.create_topic(TOPIC, partitions=1)
    return manual_broker


@pytest.fixture
def factory(manual_broker: MemoryBroker) -> MemoryClientFactory:
    return MemoryClientFactory(manual_broker)


@pytest.fixture
def member(factory: MemoryClientFactory) -> Iterator[MakeMember]:
    """Make subscribed members; they are closed at the end of the test."""
    created: list[MemoryShareConsumer] = []

    def make(
        group: str = GROUP, topics: Sequence[str] = (TOPIC,), client_id: str | None = None
    ) -> MemoryShareConsumer:
        consumer = factory.create(group, client_id=client_id or f"client-{len(created)}")
        consumer.subscribe(list(topics))
        created.append(consumer)
        return consumer

    yield make
    for consumer in created:
        consumer.close()
