"""MemoryShareConsumer and MemoryClientFactory as the runtime sees them."""

from __future__ import annotations

import pytest

from django_sharegroups.clients.base import Capability, ShareConsumerClient
from django_sharegroups.clients.memory import (
    IllegalStateError,
    MemoryBroker,
    MemoryClientFactory,
    MemoryShareConsumer,
    RecordState,
    default_broker,
    factory_from_settings,
    reset_default_broker,
)

from ..helpers import numbered, produce
from .helpers import ACCEPT, GROUP, RELEASE, TOPIC, MakeMember, earliest, offsets


def test_declares_what_it_can_do() -> None:
    assert issubclass(MemoryShareConsumer, ShareConsumerClient)
    assert MemoryShareConsumer.name == "memory"
    for capability in Capability:
        assert MemoryShareConsumer.supports(capability)
        MemoryShareConsumer.require(capability, "a feature")


def test_lock_timeout_follows_the_group_config(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    consumer = member()
    assert consumer.acquisition_lock_timeout_ms() == 30_000
    manual_broker.alter_group_config(GROUP, {"share.record.lock.duration.ms": 45_000})
    assert consumer.acquisition_lock_timeout_ms() == 45_000


def test_records_can_be_held_across_polls(manual_broker: MemoryBroker, member: MakeMember) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(4))
    consumer = member()
    first = consumer.poll(2, 0)
    second = consumer.poll(2, 0)
    assert offsets(first + second) == [0, 1, 2, 3]
    for record in first + second:
        consumer.acknowledge(record, ACCEPT)
    assert consumer.commit_sync(1) == []
    assert manual_broker.share_partition(GROUP, TOPIC, 0).start_offset == 4


def test_failures_of_acknowledgements_sent_by_poll_or_commit_async_reach_commit_sync(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(2))
    owner, other = member(), member()
    records = owner.poll(2, 0)
    other.acknowledge(records[0], ACCEPT)
    other.commit_async()
    other.acknowledge(records[1], RELEASE)
    other.poll(10, 0)
    assert [(f.offset, f.error) for f in other.commit_sync(1)] == [
        (0, "INVALID_RECORD_STATE"),
        (1, "INVALID_RECORD_STATE"),
    ]
    assert other.commit_sync(1) == []  # reported once


def test_take_acknowledgement_failures_reports_refusals_sent_by_poll_once(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(1))
    owner, other = member(), member()
    [record] = owner.poll(1, 0)
    other.acknowledge(record, ACCEPT)
    assert other.take_acknowledgement_failures() == []  # not sent yet
    other.poll(1, 0)
    assert [f.error for f in other.take_acknowledgement_failures()] == ["INVALID_RECORD_STATE"]
    assert other.take_acknowledgement_failures() == other.commit_sync(1) == []


def test_poll_before_subscribe_and_use_after_close_are_illegal(
    factory: MemoryClientFactory,
) -> None:
    consumer = factory.create(GROUP, client_id="c")
    with pytest.raises(IllegalStateError):
        consumer.poll(1, 0)
    consumer.subscribe([TOPIC])
    consumer.close()
    consumer.close()  # idempotent
    for call in (lambda: consumer.poll(1, 0), lambda: consumer.commit_sync(1)):
        with pytest.raises(IllegalStateError):
            call()


def test_max_records_must_be_positive(member: MakeMember) -> None:
    with pytest.raises(ValueError):
        member().poll(0, 0)


def test_subscribing_to_nothing_leaves_the_group(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(1))
    consumer = member()
    consumer.poll(10, 0)
    consumer.subscribe([])
    assert manual_broker.describe_share_group(GROUP).state == "Empty"
    assert manual_broker.record_state(GROUP, TOPIC, 0, 0).state is RecordState.AVAILABLE
    with pytest.raises(IllegalStateError):
        consumer.poll(1, 0)
    consumer.subscribe([TOPIC])
    assert consumer.poll(10, 0)[0].delivery_count == 2


def test_resubscribing_changes_topics(manual_broker: MemoryBroker, member: MakeMember) -> None:
    manual_broker.create_topic("other")
    earliest(manual_broker)
    manual_broker.produce("other", b"v")
    consumer = member()
    assert consumer.poll(10, 0) == []
    consumer.subscribe(["other"])
    assert [(r.topic, r.offset) for r in consumer.poll(10, 0)] == [("other", 0)]


def test_factory_creates_unsubscribed_members_and_keeps_overrides(
    manual_broker: MemoryBroker,
) -> None:
    consumer = MemoryClientFactory(manual_broker).create(
        GROUP, client_id="c-1", overrides={"max.poll.records": 5}
    )
    assert (consumer.broker, consumer.group_id, consumer.client_id) == (manual_broker, GROUP, "c-1")
    assert consumer.config == {"max.poll.records": 5}
    assert consumer.member_id is None
    assert MemoryClientFactory.client_class is MemoryShareConsumer


def test_settings_select_the_default_broker() -> None:
    factory = factory_from_settings(object())
    assert isinstance(factory, MemoryClientFactory)
    assert factory.broker is default_broker()


def test_factory_without_broker_uses_the_process_wide_default() -> None:
    previous = default_broker()
    try:
        fresh = reset_default_broker()
        assert fresh is not previous and default_broker() is fresh
        factory = MemoryClientFactory()
        assert factory.create(GROUP, client_id="c").broker is fresh
        newer = reset_default_broker()
        assert factory.broker is newer  # resolved per call
    finally:
        reset_default_broker(previous)
