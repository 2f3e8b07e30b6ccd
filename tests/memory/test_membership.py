"""Members, assignment, several members and several groups, leaving and crashing."""

from __future__ import annotations

import pytest

from django_sharegroups.clients.memory import (
    BrokerError,
    ManualClock,
    MemoryBroker,
    MemoryClientFactory,
    RecordState,
)
from django_sharegroups.clients.memory.assignment import assign_partitions

from ..helpers import numbered, produce
from .helpers import ACCEPT, GROUP, REJECT, TOPIC, MakeMember, ack_all, earliest, offsets


def drain(consumers, max_records: int = 7) -> dict[str, list[tuple[int, int]]]:
    """Poll the consumers in turn, accepting everything, until none gets anything."""
    seen: dict[str, list[tuple[int, int]]] = {c.member_id: [] for c in consumers}
    while True:
        got_any = False
        for consumer in consumers:
            records = consumer.poll(max_records, 0)
            got_any = got_any or bool(records)
            seen[consumer.member_id] += [(r.partition, r.offset) for r in records]
            ack_all(consumer, records, ACCEPT)
            assert consumer.commit_sync(1) == []
        if not got_any:
            return seen


@pytest.mark.parametrize("partitions", [1, 4])
def test_two_members_split_the_records_without_duplicates(
    manual_broker: MemoryBroker, member: MakeMember, partitions: int
) -> None:
    manual_broker.create_topic("split", partitions=partitions)
    earliest(manual_broker)
    for index in range(100):
        manual_broker.produce("split", f"{index}".encode())
    first, second = member(topics=["split"]), member(topics=["split"])
    seen = drain([first, second])
    everything = seen[first.member_id] + seen[second.member_id]
    assert len(everything) == len(set(everything)) == 100
    assert seen[first.member_id] and seen[second.member_id]
    for partition in range(partitions):
        assert (
            manual_broker.share_partition(GROUP, "split", partition).start_offset
            == 100 // partitions
        )


def test_two_groups_each_see_everything_independently(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker, group="billing")
    earliest(manual_broker, group="audit")
    produce(manual_broker, TOPIC, numbered(5))
    billing, audit = member(group="billing"), member(group="audit")
    billing_records = billing.poll(10, 0)
    ack_all(billing, billing_records, REJECT)
    billing.commit_sync(1)
    audit_records = audit.poll(10, 0)
    assert offsets(billing_records) == offsets(audit_records) == [0, 1, 2, 3, 4]
    assert all(r.delivery_count == 1 for r in audit_records)
    assert len(manual_broker.archived_records("billing")) == 5
    assert manual_broker.archived_records("audit") == []
    assert manual_broker.record_state("audit", TOPIC, 0, 0).state is RecordState.ACQUIRED


def test_more_members_than_partitions_share_partitions(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    manual_broker.create_topic("two", partitions=2)
    members = [member(topics=["two"]) for _ in range(3)]
    assignments = [manual_broker.assignment(GROUP, m.member_id) for m in members]
    assert all(len(a) >= 1 for a in assignments)
    per_partition = {p: sum(("two", p) in a for a in assignments) for p in range(2)}
    assert per_partition == {0: 2, 1: 2}  # ceil(3 members / 2 partitions) each


def test_more_partitions_than_members_get_disjoint_subsets(
    manual_broker: MemoryBroker, member: MakeMember
):
    manual_broker.create_topic("five", partitions=5)
    first, second = member(topics=["five"]), member(topics=["five"])
    a, b = (
        manual_broker.assignment(GROUP, first.member_id),
        manual_broker.assignment(GROUP, second.member_id),
    )
    assert not set(a) & set(b)
    assert sorted(a + b) == [("five", p) for p in range(5)]
    assert sorted(map(len, (a, b))) == [2, 3]


def test_assignment_follows_membership_and_topics(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    first = member(topics=["jobs", "later"])
    assert manual_broker.assignment(GROUP, first.member_id) == [("jobs", 0)]
    manual_broker.create_topic("later", partitions=2)  # subscribed before it existed
    assert sorted(manual_broker.assignment(GROUP, first.member_id)) == [
        ("jobs", 0),
        ("later", 0),
        ("later", 1),
    ]
    second = member(topics=["later"])
    assert manual_broker.assignment(GROUP, first.member_id) == [("jobs", 0), ("later", 1)]
    assert manual_broker.assignment(GROUP, second.member_id) == [("later", 0)]
    second.close()
    assert len(manual_broker.assignment(GROUP, first.member_id)) == 3


def test_assignor_balances_heterogeneous_subscriptions() -> None:
    members = [("a", ("x", "y")), ("b", ("x",)), ("c", ("y",))]
    assignment = assign_partitions(members, {"x": 2, "y": 2})
    assert assignment == {"a": [("x", 0), ("y", 1)], "b": [("x", 1)], "c": [("y", 0)]}


def test_close_releases_held_records_keeping_their_delivery_count(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(3))
    leaving, staying = member(), member()
    records = leaving.poll(10, 0)
    leaving.acknowledge(records[0], ACCEPT)  # sent before leaving
    leaving.close()
    assert manual_broker.record_state(GROUP, TOPIC, 0, 0).state is RecordState.ACKNOWLEDGED
    again = staying.poll(10, 0)
    assert [(r.offset, r.delivery_count) for r in again] == [(1, 2), (2, 2)]


def test_close_at_the_delivery_limit_archives(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker, extra={"share.delivery.count.limit": 2})
    produce(manual_broker, TOPIC, numbered(1))
    first = member()
    first.poll(10, 0)
    first.close()
    second = member()
    assert second.poll(10, 0)[0].delivery_count == 2
    second.close()
    assert manual_broker.record_state(GROUP, TOPIC, 0, 0).state is RecordState.ARCHIVED


def test_crashed_member_records_come_back_when_the_lock_expires(
    manual_broker: MemoryBroker, member: MakeMember, clock: ManualClock
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(1))
    crashing, survivor = member(), member()
    crashing.poll(10, 0)
    crashing.simulate_crash()
    assert len(manual_broker.describe_share_group(GROUP).members) == 2
    clock.advance(30)
    assert survivor.poll(10, 0)[0].delivery_count == 2
    clock.advance(15)  # share.session.timeout.ms (45 s) after the crash
    assert [m.member_id for m in manual_broker.describe_share_group(GROUP).members] == [
        survivor.member_id
    ]


def test_crashed_member_leaves_after_the_session_timeout_even_with_long_locks(
    manual_broker: MemoryBroker, member: MakeMember, clock: ManualClock
) -> None:
    earliest(manual_broker, extra={"share.record.lock.duration.ms": 60_000})
    produce(manual_broker, TOPIC, numbered(1))
    crashing, survivor = member(), member()
    crashing.poll(10, 0)
    crashing.simulate_crash()
    clock.advance(44)
    assert survivor.poll(10, 0) == []
    clock.advance(1)
    assert survivor.poll(10, 0)[0].delivery_count == 2


def test_a_removed_member_rejoins_with_its_member_id(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(1))
    consumer = member()
    member_id = consumer.member_id
    [record] = consumer.poll(10, 0)
    manual_broker.leave_group(GROUP, member_id)  # as if an admin removed it
    consumer.acknowledge(record, ACCEPT)
    again = consumer.poll(10, 0)
    assert consumer.member_id == member_id
    assert [(r.offset, r.delivery_count) for r in again] == [(0, 2)]
    assert [f.error for f in consumer.commit_sync(1)] == ["INVALID_RECORD_STATE"]


def test_group_size_is_capped(clock: ManualClock) -> None:
    manual_broker = MemoryBroker(clock=clock, config={"group.share.max.size": 1})
    manual_broker.create_topic(TOPIC)
    factory = MemoryClientFactory(manual_broker)
    factory.create(GROUP, client_id="one").subscribe([TOPIC])
    with pytest.raises(BrokerError) as error:
        factory.create(GROUP, client_id="two").subscribe([TOPIC])
    assert error.value.error == "GROUP_MAX_SIZE_REACHED"
