"""Share-group options of docs/routing.md that change how instances poll and what they know:
``poll_interval`` and ``priority``, the per-group ``client`` and ``kafka`` dict, and
``delivery_count_limit`` with its precedence over the broker's config."""

from __future__ import annotations

from itertools import pairwise

import pytest

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.clients.memory import MemoryClientFactory
from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.runtime.runner import ShareConsumerRunner

from ..helpers import declare, events_of, poll_stamps, prepare, produce, running, wait_for


def gaps_between_polls(memory_broker, **group_options) -> list[float]:
    """Run an idle group with ``group_options`` for 5 polls; the gaps between its polls."""
    prepare(memory_broker, "idle")
    bus = EventBus()
    stamps = poll_stamps(bus)
    with running([declare("idle", ShareGroupConsumer, **group_options)], memory_broker, bus=bus):
        wait_for(lambda: len(stamps) >= 5)
    return [b - a for (a, *_), (b, *_) in pairwise(stamps)]


def test_poll_interval_sets_the_pause_between_polls_and_wins_over_priority(memory_broker):
    gaps = gaps_between_polls(memory_broker, poll_interval=300, priority="high")
    assert min(gaps) >= 0.29


def test_priority_low_pauses_100_ms_between_polls(memory_broker):
    gaps = gaps_between_polls(memory_broker, priority="low")
    assert min(gaps) >= 0.09


@pytest.mark.parametrize(
    ("options", "interval_ms"),
    [
        ({}, 0),
        ({"priority": "high"}, 0),
        ({"priority": "low"}, 100),
        ({"priority": "background"}, 500),
        ({"priority": "background", "poll_interval": 0}, 0),
        ({"priority": "low", "poll_interval": 250}, 250),
    ],
)
def test_the_interval_each_priority_stands_for(options, interval_ms):
    assert declare("g", ShareGroupConsumer, **options).poll_interval_ms == interval_ms


class RecordingFactory(MemoryClientFactory):
    """The memory adapter, remembering the overrides every member was created with."""

    def __init__(self, broker) -> None:
        super().__init__(broker)
        self.overrides: list[dict] = []

    def create(self, group_id, *, client_id, overrides=None):
        self.overrides.append(dict(overrides or {}))
        return super().create(group_id, client_id=client_id, overrides=overrides)


def test_a_group_picks_its_own_client_and_adds_its_kafka_keys(memory_broker):
    prepare(memory_broker, "own-client")
    produce(memory_broker, "own-client", [{"n": 0}])
    factory = RecordingFactory(memory_broker)
    seen = []

    class Accept(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                seen.append(message.payload)
                self.mark_accepted(message)

    group = declare(
        "own-client",
        Accept,
        client="memory",
        kafka={"client.rack": "rack-7"},
        concurrency=2,
        topic_options={"jobs_builder": "per_batch", "max_messages_per_job": 4},
    )
    # The process default is a real Kafka adapter; only the group's own client may be used.
    settings = {"client": "confluent", "kafka": {"bootstrap.servers": "127.0.0.1:1"}}
    with running([group], memory_broker, factories={"memory": factory}, **settings) as runner:
        wait_for(lambda: seen)
        assert set(runner.factories) == {"memory"}
    assert seen == [{"n": 0}]
    assert len(factory.overrides) == 2  # one member per instance, each with the group's keys
    assert all(o["client.rack"] == "rack-7" and "max.poll.records" in o for o in factory.overrides)


def runner_for(group, broker) -> ShareConsumerRunner:
    return ShareConsumerRunner(
        [group],
        settings=ShareGroupsSettings(client="memory"),
        factories={"memory": MemoryClientFactory(broker)},
        bus=EventBus(),
    )


@pytest.mark.parametrize(
    ("broker_limit", "declared", "effective"),
    [(None, None, 5), (3, None, 3), (3, 2, 2), (None, 4, 4)],
)
def test_the_declared_delivery_count_limit_wins_over_the_brokers(
    memory_broker, broker_limit, declared, effective
):
    configs = {"share.delivery.count.limit": broker_limit} if broker_limit else {}
    prepare(memory_broker, "limited", **configs)
    group = declare("limited", ShareGroupConsumer, delivery_count_limit=declared)
    assert runner_for(group, memory_broker).preflight()["limited"].delivery_count_limit == (
        effective
    )


@pytest.mark.parametrize(("declared", "reported_at"), [(None, 3), (2, 2)])
def test_a_record_released_at_the_limit_is_reported_archived(memory_broker, declared, reported_at):
    """The broker archives at its limit (3); the engine reports at the limit it knows, so a
    declared limit must be the group's real one (it is meant for adapters that cannot ask)."""
    prepare(memory_broker, "poisoned", **{"share.delivery.count.limit": 3})
    produce(memory_broker, "poisoned", [{"n": 0}])
    bus = EventBus()
    archived = events_of(bus, "record.archived")
    deliveries = []

    class AlwaysRelease(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                deliveries.append(message.delivery_count)
                self.mark_released(message)

    group = declare("poisoned", AlwaysRelease, delivery_count_limit=declared)
    with running([group], memory_broker, bus=bus):
        wait_for(lambda: memory_broker.archived_records("poisoned"))
    assert deliveries == [1, 2, 3]
    assert archived[0]["reason"] == "delivery_limit"
    assert archived[0]["delivery_count"] == reported_at
