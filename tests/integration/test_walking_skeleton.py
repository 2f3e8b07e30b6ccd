"""The walking skeleton's acceptance tests, on a real Apache Kafka 4.4 broker."""

from __future__ import annotations

import logging

import pytest

from django_sharegroups import ShareGroupConsumer

from ..helpers import Deliveries, declare, kafka_settled, produce, running, wait_until

pytestmark = pytest.mark.kafka


def consumer_class(behaviour):
    """A consumer whose ``consume`` calls ``behaviour(consumer, message)`` per message."""

    class Consumer(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                behaviour(self, message)

    return Consumer


def test_ten_thousand_records_four_threads_every_offset_once(kafka_bootstrap_servers, share_topic):
    name = share_topic(partitions=3)
    total = 10_000
    for partition in range(3):  # every partition gets records, whatever the partitioner does
        numbers = range(partition, total, 3)
        produce(kafka_bootstrap_servers, name, ({"n": i} for i in numbers), partition=partition)
    seen = Deliveries()

    def accept(consumer, message):
        seen.add(message)
        consumer.mark_accepted(message)

    group = declare(name, consumer_class(accept), concurrency=4)
    with running([group], kafka_bootstrap_servers):
        assert wait_until(lambda: len(seen) >= total, timeout=120), len(seen)
        assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), timeout=30)
    offsets = seen.offsets()
    assert len(offsets) == total
    assert len(set(offsets)) == total
    assert sorted(p["n"] for p in seen.payloads()) == list(range(total))
    assert {partition for partition, _ in offsets} == {0, 1, 2}

    # A second run of the same group gets nothing old: only a record produced now.
    again = Deliveries()

    def accept_again(consumer, message):
        again.add(message)
        consumer.mark_accepted(message)

    group = declare(name, consumer_class(accept_again), concurrency=4)
    with running([group], kafka_bootstrap_servers):
        produce(kafka_bootstrap_servers, name, [{"n": "sentinel"}])
        assert wait_until(lambda: len(again) >= 1, timeout=60)
        assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), timeout=30)
    assert again.payloads() == [{"n": "sentinel"}]


def test_release_redelivers_with_delivery_count_two(kafka_bootstrap_servers, share_topic):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, [{"n": 1}])
    seen = Deliveries()

    def release_first(consumer, message):
        seen.add(message)
        if message.delivery_count == 1:
            consumer.mark_released(message)
        else:
            consumer.mark_accepted(message)

    with running([declare(name, consumer_class(release_first))], kafka_bootstrap_servers):
        assert wait_until(lambda: len(seen) >= 2, timeout=60)
        assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), timeout=30)
    assert [(d.offset, d.delivery_count) for d in seen.items] == [(0, 1), (0, 2)]


def test_rejected_record_never_comes_back(kafka_bootstrap_servers, share_topic):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, [{"poison": True}])
    seen = Deliveries()

    def reject_poison(consumer, message):
        seen.add(message)
        if message.payload.get("poison"):
            consumer.mark_rejected(message)
        else:
            consumer.mark_accepted(message)

    with running([declare(name, consumer_class(reject_poison))], kafka_bootstrap_servers):
        assert wait_until(lambda: len(seen) >= 1, timeout=60)
        produce(kafka_bootstrap_servers, name, [{"poison": False}])
        assert wait_until(lambda: len(seen) >= 2, timeout=60)
        assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), timeout=30)
    assert [(d.offset, d.delivery_count) for d in seen.items] == [(0, 1), (1, 1)]


def test_released_until_the_delivery_limit_is_not_delivered_again(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic(share_delivery_count_limit=3)
    produce(kafka_bootstrap_servers, name, [{"always": "fails"}])
    seen = Deliveries()

    def always_release(consumer, message):
        seen.add(message)
        if message.payload.get("always"):
            consumer.mark_released(message)
        else:
            consumer.mark_accepted(message)

    with running([declare(name, consumer_class(always_release))], kafka_bootstrap_servers):
        assert wait_until(lambda: len(seen) >= 3, timeout=60)
        produce(kafka_bootstrap_servers, name, [{"always": None}])
        assert wait_until(lambda: len(seen) >= 4, timeout=60)
        assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), timeout=30)
    assert [(d.offset, d.delivery_count) for d in seen.items] == [
        (0, 1),
        (0, 2),
        (0, 3),
        (1, 1),
    ]


def test_a_raising_consumer_is_logged_and_its_thread_keeps_consuming(
    kafka_bootstrap_servers, share_topic, caplog
):
    name = share_topic(partitions=2)
    produce(kafka_bootstrap_servers, name, ({"n": i} for i in range(10)))
    seen = Deliveries()

    class Flaky(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                seen.add(message)
                if message.delivery_count == 1:
                    raise ValueError(f"first try of {message.payload['n']} fails")
                self.mark_accepted(message)

    with caplog.at_level(logging.ERROR, logger="django_sharegroups"):
        with running([declare(name, Flaky)], kafka_bootstrap_servers) as runner:
            assert wait_until(lambda: len(seen) >= 20, timeout=90), seen.items
            assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), timeout=30)
            assert all(listener.is_alive() for listener in runner.listeners)
    firsts = sorted(d.payload["n"] for d in seen.items if d.delivery_count == 1)
    seconds = sorted(d.payload["n"] for d in seen.items if d.delivery_count == 2)
    assert firsts == seconds == list(range(10))
    failures = [r for r in caplog.records if "consume() of" in r.getMessage()]
    assert len(failures) == 10
    assert all(r.exc_info and r.exc_info[0] is ValueError for r in failures)
    assert all("released 1, rejected 0 unacknowledged" in r.getMessage() for r in failures)
