"""ACCEPT, RELEASE and REJECT, the delivery count and its limit — on every broker.

"Never comes back" is proven with a positive control: a record produced afterwards, at a
higher offset, does come, and the archived one does not come before or with it.
"""

from __future__ import annotations

from django_sharegroups.clients.base import AcknowledgeType, ReceivedRecord

from .harness import BrokerHarness

ACCEPT, RELEASE, REJECT = AcknowledgeType.ACCEPT, AcknowledgeType.RELEASE, AcknowledgeType.REJECT


def deliveries(records: list[ReceivedRecord]) -> list[tuple[bytes | None, int, int]]:
    return [(record.value, record.offset, record.delivery_count) for record in records]


def test_a_record_arrives_as_it_was_produced(harness: BrokerHarness) -> None:
    topic = harness.create_topic(partitions=2)
    group = harness.create_group()
    harness.produce(
        topic,
        [b"payload"],
        partition=1,
        key=b"order-42",
        headers=[("trace", b"abc"), ("empty", b"")],
        timestamp_ms=1_700_000_123_456,
    )
    member = harness.member(group, topic)
    [record] = harness.consume(member, 1)
    assert (record.topic, record.partition, record.offset) == (topic, 1, 0)
    assert (record.key, record.value) == (b"order-42", b"payload")
    assert list(record.headers) == [("trace", b"abc"), ("empty", b"")]
    assert record.timestamp_ms == 1_700_000_123_456
    assert record.delivery_count == 1


def test_release_redelivers_with_the_delivery_count_plus_one(harness: BrokerHarness) -> None:
    topic, group = harness.create_topic(), harness.create_group()
    harness.produce(topic, [b"job"])
    member = harness.member(group, topic)

    def release_twice(record: ReceivedRecord) -> AcknowledgeType:
        return RELEASE if record.delivery_count < 3 else ACCEPT

    seen = harness.consume(member, 3, ack=release_twice)
    assert deliveries(seen) == [(b"job", 0, 1), (b"job", 0, 2), (b"job", 0, 3)]
    # Accepted for good: the next record is all that comes.
    harness.produce(topic, [b"control"])
    assert deliveries(harness.consume(member, 1)) == [(b"control", 1, 1)]
    assert harness.quiet(member) == []


def test_reject_archives_the_record(harness: BrokerHarness) -> None:
    topic, group = harness.create_topic(), harness.create_group()
    harness.produce(topic, [b"poison"])
    member = harness.member(group, topic)
    assert deliveries(harness.consume(member, 1, ack=lambda r: REJECT)) == [(b"poison", 0, 1)]
    harness.produce(topic, [b"control"])
    assert deliveries(harness.consume(member, 1)) == [(b"control", 1, 1)]
    assert harness.quiet(member) == []


def test_a_rejected_record_does_not_reach_another_member_either(harness: BrokerHarness) -> None:
    topic, group = harness.create_topic(), harness.create_group()
    members = [harness.member(group, topic), harness.member(group, topic)]
    harness.share_partitions(group, topic, members)
    harness.produce(topic, [b"poison"])
    rejecter, [poison] = harness.acquire_from_any(members)
    assert (poison.value, poison.delivery_count) == (b"poison", 1)
    rejecter.acknowledge(poison, REJECT)
    assert rejecter.commit_sync(10) == []
    harness.produce(topic, [b"control"])
    came = harness.consume_from_all(members, 1)
    assert deliveries(came[0] + came[1]) == [(b"control", 1, 1)]
    assert harness.quiet(*members) == []


def test_the_delivery_count_limit_archives_a_record_released_too_often(
    harness: BrokerHarness,
) -> None:
    topic = harness.create_topic()
    group = harness.create_group(delivery_count_limit=2)  # Kafka's minimum
    harness.produce(topic, [b"flaky"])
    member = harness.member(group, topic)
    seen = harness.consume(member, 2, ack=lambda r: RELEASE)
    assert deliveries(seen) == [(b"flaky", 0, 1), (b"flaky", 0, 2)]
    harness.produce(topic, [b"control"])
    assert deliveries(harness.consume(member, 1)) == [(b"control", 1, 1)]
    assert harness.quiet(member) == []
