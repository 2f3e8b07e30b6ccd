"""Record states of a share partition: acquire, accept, release, reject, renew, lock expiry."""

from __future__ import annotations

from django_sharegroups.clients.memory import (
    ArchiveReason,
    ManualClock,
    MemoryBroker,
    RecordState,
)

from ..helpers import numbered, produce
from .helpers import (
    ACCEPT,
    GROUP,
    REJECT,
    RELEASE,
    RENEW,
    TOPIC,
    MakeMember,
    ack_all,
    earliest,
    offsets,
)


def state(manual_broker: MemoryBroker, offset: int):
    return manual_broker.record_state(GROUP, TOPIC, 0, offset)


def test_first_delivery_carries_the_record_and_delivery_count_one(
    manual_broker: MemoryBroker, member: MakeMember, clock: ManualClock
) -> None:
    earliest(manual_broker)
    manual_broker.produce(TOPIC, b"payload", key=b"k", headers={"h": b"1"})
    consumer = member()
    [record] = consumer.poll(10, 0)
    assert (record.topic, record.partition, record.offset) == (TOPIC, 0, 0)
    assert (record.key, record.value, tuple(record.headers)) == (b"k", b"payload", (("h", b"1"),))
    assert record.timestamp_ms == clock.now_ms()
    assert record.delivery_count == 1
    view = state(manual_broker, 0)
    assert (view.state, view.delivery_count, view.member_id) == (
        RecordState.ACQUIRED,
        1,
        consumer.member_id,
    )
    assert view.lock_deadline_ms == clock.now_ms() + 30_000


def test_release_redelivers_with_delivery_count_plus_one(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(1))
    first, second = member(), member()
    [record] = first.poll(10, 0)
    first.acknowledge(record, RELEASE)
    first.commit_sync(1)
    assert state(manual_broker, 0).state is RecordState.AVAILABLE
    [again] = second.poll(10, 0)
    assert (again.offset, again.delivery_count) == (0, 2)
    second.acknowledge(again, RELEASE)
    [third] = second.poll(10, 0)  # the poll itself carries the release
    assert third.delivery_count == 3


def test_acknowledgements_reach_the_broker_with_the_next_poll_or_commit(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(1))
    consumer = member()
    [record] = consumer.poll(10, 0)
    consumer.acknowledge(record, ACCEPT)
    assert state(manual_broker, 0).state is RecordState.ACQUIRED
    consumer.commit_async()
    assert state(manual_broker, 0).state is RecordState.ACKNOWLEDGED


def test_reject_archives_for_good(manual_broker: MemoryBroker, member: MakeMember) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(2))
    consumer = member()
    records = consumer.poll(10, 0)
    consumer.acknowledge(records[0], REJECT)
    consumer.acknowledge(records[1], RELEASE)
    assert consumer.commit_sync(1) == []
    assert offsets(member().poll(10, 0)) == [1]
    view = state(manual_broker, 0)
    assert (view.state, view.archive_reason) == (RecordState.ARCHIVED, ArchiveReason.REJECTED)
    [archived] = manual_broker.archived_records(GROUP)
    assert (archived.offset, archived.delivery_count, archived.reason) == (
        0,
        1,
        ArchiveReason.REJECTED,
    )
    assert archived.member_id == consumer.member_id


def test_release_at_the_delivery_count_limit_archives(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker, extra={"share.delivery.count.limit": 3})
    produce(manual_broker, TOPIC, numbered(1))
    consumer = member()
    counts = []
    for _ in range(3):
        [record] = consumer.poll(10, 0)
        counts.append(record.delivery_count)
        consumer.acknowledge(record, RELEASE)
        assert consumer.commit_sync(1) == []
    assert counts == [1, 2, 3]
    assert consumer.poll(10, 0) == []
    view = state(manual_broker, 0)
    assert (view.state, view.delivery_count, view.archive_reason) == (
        RecordState.ARCHIVED,
        3,
        ArchiveReason.DELIVERY_COUNT_EXCEEDED,
    )
    assert [a.reason for a in manual_broker.archived_records(GROUP)] == [
        ArchiveReason.DELIVERY_COUNT_EXCEEDED
    ]


def test_default_delivery_count_limit_is_five(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(1))
    consumer = member()
    deliveries = 0
    while records := consumer.poll(10, 0):
        deliveries += 1
        ack_all(consumer, records, RELEASE)
        consumer.commit_sync(1)
    assert deliveries == 5
    assert state(manual_broker, 0).state is RecordState.ARCHIVED


def test_lock_expiry_makes_the_record_available_to_another_member(
    manual_broker: MemoryBroker, member: MakeMember, clock: ManualClock
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(1))
    slow, other = member(), member()
    [record] = slow.poll(10, 0)
    clock.advance(ms=29_999)
    assert other.poll(10, 0) == []
    clock.advance(ms=1)  # exactly share.record.lock.duration.ms after acquisition
    assert state(manual_broker, 0).state is RecordState.AVAILABLE
    [again] = other.poll(10, 0)
    assert (again.offset, again.delivery_count) == (0, 2)
    assert state(manual_broker, 0).member_id == other.member_id
    slow.acknowledge(record, ACCEPT)  # too late: the record belongs to `other` now
    [failure] = slow.commit_sync(1)
    assert (failure.offset, failure.error) == (0, "INVALID_RECORD_STATE")
    other.acknowledge(again, ACCEPT)
    assert other.commit_sync(1) == []


def test_lock_expiry_at_the_delivery_count_limit_archives(
    manual_broker: MemoryBroker, member: MakeMember, clock: ManualClock
) -> None:
    earliest(manual_broker, extra={"share.delivery.count.limit": 2})
    produce(manual_broker, TOPIC, numbered(1))
    consumer = member()
    for expected in (1, 2):
        [record] = consumer.poll(10, 0)
        assert record.delivery_count == expected
        clock.advance(30)
    view = state(manual_broker, 0)
    assert (view.state, view.archive_reason) == (
        RecordState.ARCHIVED,
        ArchiveReason.DELIVERY_COUNT_EXCEEDED,
    )
    assert consumer.poll(10, 0) == []


def test_renew_restarts_the_lock_without_a_new_delivery(
    manual_broker: MemoryBroker, member: MakeMember, clock: ManualClock
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(1))
    owner, other = member(), member()
    [record] = owner.poll(10, 0)
    clock.advance(20)
    owner.acknowledge(record, RENEW)
    assert owner.commit_sync(1) == []
    clock.advance(20)  # 40 s after acquisition, 20 s after the renewal
    view = state(manual_broker, 0)
    assert (view.state, view.delivery_count, view.member_id) == (
        RecordState.ACQUIRED,
        1,
        owner.member_id,
    )
    assert view.lock_deadline_ms == clock.now_ms() + 10_000
    assert other.poll(10, 0) == []
    owner.acknowledge(record, RENEW)
    owner.acknowledge(record, ACCEPT)  # a renewed record is acknowledged as usual
    assert owner.commit_sync(1) == []
    assert state(manual_broker, 0).state is RecordState.ACKNOWLEDGED


def test_renewed_lock_still_expires(
    manual_broker: MemoryBroker, member: MakeMember, clock: ManualClock
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(1))
    owner, other = member(), member()
    [record] = owner.poll(10, 0)
    clock.advance(20)
    owner.acknowledge(record, RENEW)
    owner.commit_sync(1)
    clock.advance(30)
    [again] = other.poll(10, 0)
    assert again.delivery_count == 2


def test_only_the_owner_may_renew_or_acknowledge(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(1))
    owner, intruder = member(), member()
    [record] = owner.poll(10, 0)
    for ack_type in (RENEW, ACCEPT, RELEASE, REJECT):
        intruder.acknowledge(record, ack_type)
    failures = intruder.commit_sync(1)
    assert [f.error for f in failures] == ["INVALID_RECORD_STATE"] * 4
    assert state(manual_broker, 0).member_id == owner.member_id


def test_renew_can_be_switched_off_per_group(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker, extra={"share.renew.acknowledge.enable": "false"})
    produce(manual_broker, TOPIC, numbered(1))
    consumer = member()
    [record] = consumer.poll(10, 0)
    consumer.acknowledge(record, RENEW)
    assert [f.error for f in consumer.commit_sync(1)] == ["INVALID_RECORD_STATE"]


def test_acknowledging_twice_or_unacquired_offsets_fails(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(3))
    consumer = member()
    head, second = consumer.poll(2, 0)  # the head stays acquired: the SPSO stays at 0
    consumer.acknowledge(second, ACCEPT)
    consumer.acknowledge(second, ACCEPT)
    unfetched = second.__class__(TOPIC, 0, 2, None, None)
    elsewhere = second.__class__("nowhere", 0, 0, None, None)
    consumer.acknowledge(unfetched, ACCEPT)
    consumer.acknowledge(elsewhere, ACCEPT)
    failures = consumer.commit_sync(1)
    assert [(f.offset, f.error) for f in failures] == [
        (1, "INVALID_RECORD_STATE"),
        (2, "INVALID_REQUEST"),  # past the share-partition end offset
        (0, "UNKNOWN_TOPIC_OR_PARTITION"),
    ]
    assert state(manual_broker, 0).state is RecordState.ACQUIRED


def test_acknowledgements_before_the_start_offset_are_ignored_as_kafka_does(
    manual_broker: MemoryBroker, member: MakeMember, clock: ManualClock
) -> None:
    """Kafka skips an acknowledgement of offsets before the SPSO ("already archived") without
    an error: a late acknowledgement of a record another member finished succeeds and changes
    nothing (checked on Kafka 4.4 by tests/scenarios/test_locks.py, also for a record archived
    at the delivery limit)."""
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(2))
    slow, other = member(), member()
    [late] = slow.poll(1, 0)
    clock.advance(30)
    [again] = other.poll(1, 0)
    other.acknowledge(again, ACCEPT)
    assert other.commit_sync(1) == []
    assert manual_broker.share_partition(GROUP, TOPIC, 0).start_offset == 1
    for ack_type in (ACCEPT, RELEASE, REJECT, RENEW):
        slow.acknowledge(late, ack_type)
    assert slow.commit_sync(1) == []
    assert state(manual_broker, 0).state is RecordState.ACKNOWLEDGED
    assert manual_broker.archived_records(GROUP) == []
    # Still refused at or after the SPSO: offset 1 was never acquired by `slow`.
    [next_record] = other.poll(1, 0)
    slow.acknowledge(next_record, ACCEPT)
    assert [(f.offset, f.error) for f in slow.commit_sync(1)] == [(1, "INVALID_RECORD_STATE")]


def test_start_offset_moves_past_acknowledged_and_archived_records(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(5))
    consumer = member()
    records = consumer.poll(10, 0)
    view = manual_broker.share_partition(GROUP, TOPIC, 0)
    assert (view.start_offset, view.end_offset, view.in_flight_count) == (0, 5, 5)
    consumer.acknowledge(records[1], ACCEPT)
    consumer.acknowledge(records[2], REJECT)
    consumer.commit_sync(1)
    assert manual_broker.share_partition(GROUP, TOPIC, 0).start_offset == 0
    consumer.acknowledge(records[0], ACCEPT)
    consumer.commit_sync(1)
    assert manual_broker.share_partition(GROUP, TOPIC, 0).start_offset == 3
    consumer.acknowledge(records[3], RELEASE)  # still in flight: the SPSO stops here
    consumer.acknowledge(records[4], ACCEPT)
    consumer.commit_sync(1)
    view = manual_broker.share_partition(GROUP, TOPIC, 0)
    assert (view.start_offset, view.end_offset, view.available_count) == (3, 5, 1)
    assert [r.state for r in view.records] == [RecordState.AVAILABLE, RecordState.ACKNOWLEDGED]


def test_in_flight_records_are_capped_by_max_record_locks(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker, extra={"share.partition.max.record.locks": 100})
    produce(manual_broker, TOPIC, numbered(150))
    first, second = member(), member()
    taken = first.poll(500, 0)
    assert offsets(taken) == list(range(100))
    assert manual_broker.in_flight_count(GROUP, TOPIC, 0) == 100
    assert second.poll(500, 0) == []
    ack_all(first, taken[:10], RELEASE)  # released records stay in flight
    first.commit_sync(1)
    assert offsets(second.poll(500, 0)) == list(range(10))
    ack_all(first, taken[10:30], ACCEPT)  # still blocked behind offsets 0-9
    first.commit_sync(1)
    assert second.poll(500, 0) == []
    assert manual_broker.share_partition(GROUP, TOPIC, 0).start_offset == 0


def test_acknowledging_the_head_makes_room_for_new_records(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker, extra={"share.partition.max.record.locks": 100})
    produce(manual_broker, TOPIC, numbered(150))
    consumer = member()
    taken = consumer.poll(500, 0)
    ack_all(consumer, taken[:10], ACCEPT)
    assert offsets(consumer.poll(500, 0)) == list(range(100, 110))


def test_poll_never_returns_more_than_asked(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(10))
    consumer = member()
    assert offsets(consumer.poll(3, 0)) == [0, 1, 2]
    assert offsets(consumer.poll(3, 0)) == [3, 4, 5]
    assert manual_broker.acquired_count(GROUP, consumer.member_id) == 6


def test_records_delivered_often_are_delivered_alone(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    # Kafka 4.4 throttles records at or past half the delivery limit (here 3 of 5) so a
    # poison record cannot take healthy ones down with it again and again.
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(3))
    consumer = member()
    for count in (1, 2, 3):
        records = consumer.poll(2, 0)
        assert [(r.offset, r.delivery_count) for r in records] == [(0, count), (1, count)]
        ack_all(consumer, records, RELEASE)
    consumer.commit_sync(1)
    assert [(r.offset, r.delivery_count) for r in consumer.poll(10, 0)] == [(0, 4)]
    assert [(r.offset, r.delivery_count) for r in consumer.poll(10, 0)] == [(1, 4)]
    assert [(r.offset, r.delivery_count) for r in consumer.poll(10, 0)] == [(2, 1)]


def test_redelivered_records_come_before_new_ones(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(3))
    consumer = member()
    records = consumer.poll(2, 0)
    consumer.acknowledge(records[1], RELEASE)
    assert [(r.offset, r.delivery_count) for r in consumer.poll(10, 0)] == [(1, 2), (2, 1)]


def test_one_poll_reads_several_partitions_starting_at_a_different_one_each_time(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    manual_broker.create_topic("pair", partitions=2)
    earliest(manual_broker)
    for partition in (0, 0, 1, 1):
        manual_broker.produce("pair", b"v", partition=partition)
    consumer = member(topics=["pair"])
    first = consumer.poll(1, 0)
    second = consumer.poll(1, 0)
    assert {first[0].partition, second[0].partition} == {0, 1}
    rest = consumer.poll(10, 0)
    assert sorted((r.partition, r.offset) for r in rest) == [(0, 1), (1, 1)]
