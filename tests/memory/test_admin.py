"""What an admin sees and may do: describe, offsets and lag, reset, delete; inspection helpers."""

from __future__ import annotations

import pytest

from django_sharegroups.clients.memory import BrokerError, MemoryBroker, RecordState

from ..helpers import numbered, produce
from .helpers import ACCEPT, GROUP, TOPIC, MakeMember, earliest, offsets


def test_describe_lists_members_and_assignments(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    consumer = member(client_id="worker-1")
    description = manual_broker.describe_share_group(GROUP)
    assert description.state == "Stable"
    [described] = description.members
    assert (described.member_id, described.client_id) == (consumer.member_id, "worker-1")
    assert described.subscribed_topics == (TOPIC,)
    assert described.assignment == ((TOPIC, 0),)
    consumer.close()
    assert manual_broker.describe_share_group(GROUP).state == "Empty"
    assert manual_broker.list_share_groups() == [GROUP]


def test_offsets_report_start_offset_and_lag(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(10))
    consumer = member()
    records = consumer.poll(4, 0)
    for record in (records[0], records[2]):
        consumer.acknowledge(record, ACCEPT)
    consumer.commit_sync(1)
    [(key, described)] = manual_broker.share_group_offsets(GROUP).items()
    assert key == (TOPIC, 0)
    # SPSO 1; of offsets 1..9, offset 2 is done: lag = 10 - 1 - 1
    assert (described.start_offset, described.lag) == (1, 8)


def test_offsets_can_only_be_reset_while_the_group_is_empty(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(10))
    consumer = member()
    consumer.poll(10, 0)
    with pytest.raises(BrokerError) as error:
        manual_broker.alter_share_group_offsets(GROUP, {(TOPIC, 0): 7})
    assert error.value.error == "NON_EMPTY_GROUP"
    consumer.close()
    manual_broker.alter_share_group_offsets(GROUP, {(TOPIC, 0): 7})
    assert manual_broker.share_group_offsets(GROUP)[(TOPIC, 0)].start_offset == 7
    assert [(r.offset, r.delivery_count) for r in member().poll(10, 0)] == [
        (7, 1),
        (8, 1),
        (9, 1),
    ]


def test_offsets_can_be_set_before_the_group_exists(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    produce(manual_broker, TOPIC, numbered(5))
    manual_broker.alter_share_group_offsets("new-group", {(TOPIC, 0): 3})
    assert offsets(member(group="new-group").poll(10, 0)) == [3, 4]


def test_deleting_offsets_starts_over_per_auto_reset(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(2))
    consumer = member()
    for record in consumer.poll(10, 0):
        consumer.acknowledge(record, ACCEPT)
    consumer.close()
    manual_broker.delete_share_group_offsets(GROUP, [TOPIC])
    assert manual_broker.share_group_offsets(GROUP) == {}
    assert offsets(member().poll(10, 0)) == [0, 1]


def test_delete_group(manual_broker: MemoryBroker, member: MakeMember) -> None:
    consumer = member()
    with pytest.raises(BrokerError) as busy:
        manual_broker.delete_share_group(GROUP)
    consumer.close()
    manual_broker.delete_share_group(GROUP)
    with pytest.raises(BrokerError) as gone:
        manual_broker.delete_share_group(GROUP)
    assert (busy.value.error, gone.value.error) == ("NON_EMPTY_GROUP", "GROUP_ID_NOT_FOUND")
    assert manual_broker.list_share_groups() == []


def test_inspection_helpers(manual_broker: MemoryBroker, member: MakeMember) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(3))
    consumer = member()
    assert manual_broker.share_partition(GROUP, TOPIC, 0) is None
    assert manual_broker.record_state(GROUP, TOPIC, 0, 0) is None
    consumer.poll(2, 0)
    assert manual_broker.acquired_records(GROUP, consumer.member_id) == [
        (TOPIC, 0, 0),
        (TOPIC, 0, 1),
    ]
    assert (
        manual_broker.acquired_count(GROUP)
        == manual_broker.acquired_count(GROUP, consumer.member_id)
        == 2
    )
    assert manual_broker.in_flight_count(GROUP, TOPIC, 0) == 2
    view = manual_broker.share_partition(GROUP, TOPIC, 0)
    assert (view.acquired_count, view.available_count) == (2, 0)
    assert [r.state for r in view.records] == [RecordState.ACQUIRED] * 2
    assert manual_broker.record_state(GROUP, TOPIC, 0, 2) is None  # never acquired
