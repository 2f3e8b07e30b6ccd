"""Group configs and broker settings: Kafka 4.4 names, defaults and bounds."""

from __future__ import annotations

import pytest

from django_sharegroups.clients.memory import (
    BrokerError,
    ManualClock,
    MemoryBroker,
    RecordState,
)
from django_sharegroups.exceptions import ConfigurationError

from ..helpers import numbered, produce
from .helpers import GROUP, RELEASE, TOPIC, MakeMember, earliest


def test_group_configs_default_to_kafkas(manual_broker: MemoryBroker) -> None:
    assert manual_broker.group_config("any") == {
        "share.record.lock.duration.ms": 30_000,
        "share.delivery.count.limit": 5,
        "share.partition.max.record.locks": 2_000,
        "share.session.timeout.ms": 45_000,
        "share.heartbeat.interval.ms": 5_000,
        "share.auto.offset.reset": "latest",
        "share.isolation.level": "read_uncommitted",
        "share.renew.acknowledge.enable": True,
    }


def test_broker_defaults_apply_to_every_group() -> None:
    manual_broker = MemoryBroker(
        clock=ManualClock(),
        config={
            "group.share.delivery.count.limit": 3,
            "group.share.record.lock.duration.ms": 20_000,
        },
    )
    config = manual_broker.group_config("g")
    assert (config["share.delivery.count.limit"], config["share.record.lock.duration.ms"]) == (
        3,
        20_000,
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("share.delivery.count.limit", 1),
        ("share.delivery.count.limit", 11),
        ("share.record.lock.duration.ms", 14_999),
        ("share.record.lock.duration.ms", 60_001),
        ("share.partition.max.record.locks", 99),
        ("share.partition.max.record.locks", 4_001),
        ("share.session.timeout.ms", 44_999),
        ("share.delivery.count.limit", "three"),
        ("share.renew.acknowledge.enable", "maybe"),
        ("share.isolation.level", "serializable"),
        ("errors.deadletterqueue.topic.name", "dlq"),  # KIP-1191: not in the memory broker
        ("share.no.such.config", 1),
    ],
)
def test_out_of_bounds_or_unknown_group_configs_are_refused(
    manual_broker: MemoryBroker, key: str, value: object
) -> None:
    with pytest.raises(BrokerError) as error:
        manual_broker.alter_group_config(GROUP, {key: value})
    assert error.value.error == "INVALID_CONFIG"


def test_an_invalid_change_changes_nothing(manual_broker: MemoryBroker) -> None:
    with pytest.raises(BrokerError):
        manual_broker.alter_group_config(
            GROUP, {"share.delivery.count.limit": 3, "share.record.lock.duration.ms": 1}
        )
    assert manual_broker.group_config(GROUP)["share.delivery.count.limit"] == 5


def test_none_deletes_a_group_config(manual_broker: MemoryBroker) -> None:
    manual_broker.alter_group_config(GROUP, {"share.delivery.count.limit": 3})
    manual_broker.alter_group_config(GROUP, {"share.delivery.count.limit": None})
    assert manual_broker.group_config(GROUP)["share.delivery.count.limit"] == 5


def test_lowering_the_broker_minimum_allows_short_locks() -> None:
    manual_broker = MemoryBroker(
        clock=ManualClock(), config={"group.share.min.record.lock.duration.ms": 100}
    )
    manual_broker.alter_group_config(GROUP, {"share.record.lock.duration.ms": "250"})
    assert manual_broker.group_config(GROUP)["share.record.lock.duration.ms"] == 250


def test_broker_defaults_must_lie_within_the_broker_bounds() -> None:
    with pytest.raises(ConfigurationError):
        MemoryBroker(config={"group.share.record.lock.duration.ms": 1_000})


def test_config_changes_apply_to_records_already_in_flight(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(1))
    consumer = member()
    [record] = consumer.poll(10, 0)
    consumer.acknowledge(record, RELEASE)
    [record] = consumer.poll(10, 0)
    assert record.delivery_count == 2
    manual_broker.alter_group_config(GROUP, {"share.delivery.count.limit": 2})
    consumer.acknowledge(record, RELEASE)
    assert consumer.commit_sync(1) == []
    assert manual_broker.record_state(GROUP, TOPIC, 0, 0).state is RecordState.ARCHIVED
