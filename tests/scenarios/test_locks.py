"""Acquisition locks: expiry redelivers (to the holder or another member), what a late
acknowledgement does, closing gives records back, RENEW keeps the lock."""

from __future__ import annotations

import pytest

from django_sharegroups.clients.base import AcknowledgeType, Capability

from .harness import SHORT_LOCK_MS, BrokerHarness, backends
from .test_acknowledgements import deliveries

ACCEPT, RENEW = AcknowledgeType.ACCEPT, AcknowledgeType.RENEW


def refused(failures) -> list[tuple[int, int, str]]:
    return [(failure.partition, failure.offset, failure.error) for failure in failures]


def test_lock_expiry_redelivers_to_the_holder_and_refuses_its_late_accept(
    harness: BrokerHarness,
) -> None:
    topic = harness.create_topic()
    group = harness.create_group(lock_duration_ms=SHORT_LOCK_MS)
    harness.produce(topic, [b"slow"])
    member = harness.member(group, topic)
    [held] = harness.acquire(member)
    assert (held.offset, held.delivery_count) == (0, 1)
    harness.let_locks_expire()
    # The record is Available again (at the SPSO): an ACCEPT now is refused...
    member.acknowledge(held, ACCEPT)
    assert refused(member.commit_sync(10)) == [(0, 0, "INVALID_RECORD_STATE")]
    # ...and it comes back, delivered a second time.
    assert deliveries(harness.consume(member, 1)) == [(b"slow", 0, 2)]
    assert harness.quiet(member) == []


def test_lock_expiry_redelivers_to_another_member(harness: BrokerHarness) -> None:
    topic = harness.create_topic()
    group = harness.create_group(lock_duration_ms=SHORT_LOCK_MS)
    members = [harness.member(group, topic), harness.member(group, topic)]
    harness.share_partitions(group, topic, members)
    harness.produce(topic, [b"slow"])
    holder, [held] = harness.acquire_from_any(members)
    [other] = [member for member in members if member is not holder]
    assert (held.offset, held.delivery_count) == (0, 1)
    harness.let_locks_expire()
    [again] = harness.acquire(other)
    assert (again.value, again.offset, again.delivery_count) == (b"slow", 0, 2)
    # The holder's ACCEPT comes too late: the record is the other member's now.
    holder.acknowledge(held, ACCEPT)
    assert refused(holder.commit_sync(10)) == [(0, 0, "INVALID_RECORD_STATE")]
    other.acknowledge(again, ACCEPT)
    assert other.commit_sync(10) == []
    assert harness.quiet(other, holder) == []


def test_a_late_acknowledgement_of_a_finished_record_is_ignored(harness: BrokerHarness) -> None:
    """Once another member accepted the record, the SPSO has moved past it: Kafka skips
    acknowledgements before the SPSO without an error, and nothing changes."""
    topic = harness.create_topic()
    group = harness.create_group(lock_duration_ms=SHORT_LOCK_MS)
    members = [harness.member(group, topic), harness.member(group, topic)]
    harness.share_partitions(group, topic, members)
    harness.produce(topic, [b"slow"])
    holder, [held] = harness.acquire_from_any(members)
    [other] = [member for member in members if member is not holder]
    harness.let_locks_expire()
    assert deliveries(harness.consume(other, 1)) == [(b"slow", 0, 2)]
    holder.acknowledge(held, AcknowledgeType.REJECT)
    assert holder.commit_sync(10) == []
    harness.produce(topic, [b"control"])
    came = harness.consume_from_all(members, 1)
    assert deliveries(came[0] + came[1]) == [(b"control", 1, 1)]
    assert harness.quiet(*members) == []


def expire_twice_at_the_limit(harness: BrokerHarness) -> tuple:
    """A record whose lock runs out on both of its two allowed deliveries; returns the member,
    the topic and the held second delivery (not acknowledged yet)."""
    topic = harness.create_topic()
    group = harness.create_group(lock_duration_ms=SHORT_LOCK_MS, delivery_count_limit=2)
    harness.produce(topic, [b"stuck"])
    member = harness.member(group, topic)
    [first] = harness.acquire(member)
    assert (first.value, first.offset, first.delivery_count) == (b"stuck", 0, 1)
    harness.let_locks_expire()
    member.acknowledge(first, ACCEPT)  # too late (and librdkafka wants every record acked)
    assert refused(member.commit_sync(10)) == [(0, 0, "INVALID_RECORD_STATE")]
    [second] = harness.acquire(member)
    assert (second.value, second.offset, second.delivery_count) == (b"stuck", 0, 2)
    harness.let_locks_expire()
    return member, topic, second


def test_lock_expiry_at_the_delivery_count_limit_archives_the_record(
    harness: BrokerHarness,
) -> None:
    member, topic, second = expire_twice_at_the_limit(harness)
    member.acknowledge(second, ACCEPT)  # what this answers: the next scenario
    member.commit_sync(10)
    harness.produce(topic, [b"control"])
    assert deliveries(harness.consume(member, 1)) == [(b"control", 1, 1)]
    assert harness.quiet(member) == []


#: What a late ACCEPT of a record archived at the delivery limit gets (docs/brokers.md,
#: difference 5): Kafka has moved the SPSO past it and skips it silently; the mock keeps the
#: record in flight and refuses the acknowledgement.
LATE_ACK_OF_ARCHIVED = {
    "memory": [],
    "mock": [(0, 0, "INVALID_RECORD_STATE")],
    "kafka": [],
    "native": [],
}


def test_a_late_acknowledgement_of_a_record_archived_at_the_limit(
    harness: BrokerHarness,
) -> None:
    member, _, second = expire_twice_at_the_limit(harness)
    member.acknowledge(second, ACCEPT)
    assert refused(member.commit_sync(10)) == LATE_ACK_OF_ARCHIVED[harness.name]


def test_closing_a_member_gives_its_records_back_before_the_lock_expires(
    harness: BrokerHarness,
) -> None:
    topic = harness.create_topic()
    group = harness.create_group()  # a 30 s lock: far longer than the scenario may take
    members = [harness.member(group, topic), harness.member(group, topic)]
    harness.share_partitions(group, topic, members)
    harness.produce(topic, [b"job"])
    leaver, [held] = harness.acquire_from_any(members)
    [other] = [member for member in members if member is not leaver]
    assert held.delivery_count == 1
    leaver.close()
    assert deliveries(harness.consume(other, 1)) == [(b"job", 0, 2)]


#: The lock of the RENEW scenario: long enough that the moment "the first lock is surely over
#: (plus the broker's expiry margin), the renewed one surely not" lasts over a second.
RENEW_LOCK_MS = 6000


@pytest.mark.parametrize("harness", backends(Capability.RENEW), indirect=True)
def test_renew_keeps_the_lock(harness: BrokerHarness) -> None:
    topic = harness.create_topic()
    group = harness.create_group(lock_duration_ms=RENEW_LOCK_MS)
    members = [harness.member(group, topic), harness.member(group, topic)]
    harness.share_partitions(group, topic, members)
    harness.produce(topic, [b"long-job"])
    holder, [held] = harness.acquire_from_any(members)
    first_lock_ends = harness.now_ms() + RENEW_LOCK_MS  # acquired before now: ends before this
    [other] = [member for member in members if member is not holder]
    harness.pass_time(RENEW_LOCK_MS // 2)
    renewed_lock_ends = harness.now_ms() + RENEW_LOCK_MS  # renewed after now: ends after this
    holder.acknowledge(held, RENEW)
    assert holder.commit_sync(10) == []
    harness.pass_time_until(first_lock_ends + harness.expiry_margin_ms)
    assert harness.quiet(other, period=0.3) == []
    # Without the RENEW, Kafka would refuse this ACCEPT (INVALID_RECORD_STATE) by now.
    assert harness.now_ms() < renewed_lock_ends, "too slow to tell: the renewed lock ran out"
    holder.acknowledge(held, ACCEPT)
    assert holder.commit_sync(10) == []
    harness.produce(topic, [b"control"])
    came = harness.consume_from_all(members, 1)
    assert deliveries(came[0] + came[1]) == [(b"control", 1, 1)]
