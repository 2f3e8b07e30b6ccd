"""share.auto.offset.reset: where a share partition starts when the group first fetches it."""

from __future__ import annotations

import pytest

from django_sharegroups.clients.memory import BrokerError, ManualClock, MemoryBroker

from ..helpers import numbered, produce
from .helpers import GROUP, TOPIC, MakeMember, earliest, offsets


def test_latest_is_the_default_and_skips_earlier_records(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    produce(manual_broker, TOPIC, numbered(3))
    consumer = member()
    assert manual_broker.share_partition(GROUP, TOPIC, 0) is None  # not initialised until fetched
    assert consumer.poll(10, 0) == []
    view = manual_broker.share_partition(GROUP, TOPIC, 0)
    assert (view.start_offset, view.end_offset) == (3, 3)
    produce(manual_broker, TOPIC, numbered(2))
    assert offsets(consumer.poll(10, 0)) == [3, 4]


def test_latest_means_the_log_end_at_the_first_fetch_not_at_subscribe(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    consumer = member()
    produce(manual_broker, TOPIC, numbered(2))  # after subscribe, before the first fetch
    assert consumer.poll(10, 0) == []
    produce(manual_broker, TOPIC, numbered(1))
    assert offsets(consumer.poll(10, 0)) == [2]


def test_earliest_delivers_everything(manual_broker: MemoryBroker, member: MakeMember) -> None:
    produce(manual_broker, TOPIC, numbered(3))
    earliest(manual_broker)
    assert offsets(member().poll(10, 0)) == [0, 1, 2]


def test_by_duration_starts_at_records_younger_than_the_duration(
    manual_broker: MemoryBroker, member: MakeMember, clock: ManualClock
) -> None:
    manual_broker.produce(TOPIC, b"two hours old")
    clock.advance(3600)
    manual_broker.produce(TOPIC, b"one hour old")
    clock.advance(1800)
    manual_broker.produce(TOPIC, b"fresh")
    clock.advance(1800)
    manual_broker.alter_group_config(GROUP, {"share.auto.offset.reset": "by_duration:PT1H"})
    assert offsets(member().poll(10, 0)) == [1, 2]


def test_reset_strategy_only_matters_for_a_new_share_partition(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    produce(manual_broker, TOPIC, numbered(2))
    consumer = member()
    consumer.poll(10, 0)  # initialised at the log end (latest)
    earliest(manual_broker)
    assert consumer.poll(10, 0) == []


def test_every_group_initialises_its_own_share_partition(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    produce(manual_broker, TOPIC, numbered(2))
    earliest(manual_broker, group="replay")
    assert member(group="live").poll(10, 0) == []
    assert offsets(member(group="replay").poll(10, 0)) == [0, 1]


@pytest.mark.parametrize("value", ["none", "by_duration:-PT1H", "by_duration:PT", "oldest"])
def test_invalid_reset_strategies_are_refused(manual_broker: MemoryBroker, value: str) -> None:
    with pytest.raises(BrokerError) as error:
        manual_broker.alter_group_config(GROUP, {"share.auto.offset.reset": value})
    assert error.value.error == "INVALID_CONFIG"
