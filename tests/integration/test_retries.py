"""The retry toolbox on real Kafka 4.4 through the confluent adapter (no RENEW there)."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.exceptions import ConfigurationError, NotSupportedError
from django_sharegroups.instrumentation import events
from django_sharegroups.processing.delay_topic import DelayTopicConsumer, release_to_delay_topic
from django_sharegroups.runtime.runner import ShareConsumerRunner

from ..helpers import (
    Deliveries,
    declare,
    kafka_settled,
    produce,
    released_once,
    running,
    wait_until,
)

pytestmark = pytest.mark.kafka


class Captured:
    """Subscribe to an event of the process-wide bus for the duration of a test."""

    def __init__(self, event, share_group):
        self.event, self.share_group, self.items = event, share_group, []

    def __call__(self, event, payload):
        if payload.get("share_group") == self.share_group:
            self.items.append(payload)

    def __enter__(self):
        events.subscribe(self.event, self)
        return self.items

    def __exit__(self, *exc):
        events.unsubscribe(self.event, self)


def read_all(bootstrap, topic, expected, timeout=30):
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    records, deadline = [], time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                records.append(message)
    finally:
        consumer.close()
    return records


def test_a_delay_within_the_lock_is_honoured(kafka_bootstrap_servers, share_topic):
    name = share_topic(share_record_lock_duration_ms=5000)
    produce(kafka_bootstrap_servers, name, [{"n": 1}])
    seen = Deliveries()

    RetryLater = released_once(seen, 1500)

    with running([declare(name, RetryLater)], kafka_bootstrap_servers):
        assert wait_until(lambda: len(seen.items) >= 2, timeout=30)
        assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), timeout=30)
    (_, first, first_at, *_), (_, second, second_at, *_) = seen.items
    assert (first, second) == (1, 2)
    assert second_at - first_at >= 1.5


def test_a_delay_beyond_the_lock_is_clamped_and_reported(kafka_bootstrap_servers, share_topic):
    name = share_topic(share_record_lock_duration_ms=3000)
    produce(kafka_bootstrap_servers, name, [{"n": 1}])
    seen = Deliveries()

    RetryMuchLater = released_once(seen, 60_000)

    with Captured("release.clamped", name) as clamped, Captured("lock.expired", name) as expired:
        with running([declare(name, RetryMuchLater)], kafka_bootstrap_servers):
            assert wait_until(lambda: len(seen.items) >= 2, timeout=30)
    [event] = clamped
    assert event["asked_ms"] == 60_000 and 0 < event["honoured_ms"] < 3000
    (_, first, first_at, *_), (_, second, second_at, *_) = seen.items
    assert (first, second) == (1, 2)
    assert second_at - first_at < 10  # released before its lock ran out, not after 60 s
    assert expired == []


def test_extend_lock_is_not_supported_on_librdkafka(kafka_bootstrap_servers, share_topic):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, [{"n": 1}])
    errors = []

    class Extends(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                try:
                    self.extend_lock(message)
                except NotSupportedError as exc:
                    errors.append(str(exc))
                self.mark_accepted(message)

    with running([declare(name, Extends)], kafka_bootstrap_servers):
        assert wait_until(lambda: errors, timeout=30)
    assert "'confluent' client adapter" in errors[0]


def test_dead_letter_queue_on_real_kafka(kafka_bootstrap_servers, share_topic, kafka_topic):
    name = share_topic()
    dlq = kafka_topic(1, prefix="dlq")
    produce(kafka_bootstrap_servers, name, [{"n": 1}], key=b"k1")
    seen = Deliveries()

    class Failing(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                seen.add(message)
            raise TimeoutError("upstream timed out")

    group = declare(
        name, Failing, topic_options={"dead_letter_queue": {"topic": dlq, "max_retries": 2}}
    )
    with Captured("record.archived", name) as archived:
        with running([group], kafka_bootstrap_servers):
            assert wait_until(lambda: archived, timeout=30)
            assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), timeout=30)
    assert [d.delivery_count for d in seen.items] == [1, 2]
    [copy] = read_all(kafka_bootstrap_servers, dlq, 1)
    headers = dict(copy.headers())
    assert copy.value() == b'{"n": 1}' and copy.key() == b"k1"
    assert headers["sharegroups.dlq.topic"] == name.encode()
    assert headers["sharegroups.dlq.delivery-count"] == b"2"
    assert headers["sharegroups.dlq.error-class"] == b"TimeoutError"
    assert [(a["offset"], a["reason"]) for a in archived] == [(0, "rejected")]


def test_delay_topic_retries_later_than_any_lock(kafka_bootstrap_servers, share_topic, kafka_topic):
    name = share_topic()
    delay = share_topic()
    seen = Deliveries()

    class Orders(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                first_time = not seen.items
                seen.add(message)
                if first_time:
                    release_to_delay_topic(self, message, 2000, delay)
                else:
                    self.mark_accepted(message)

    orders = declare(name, Orders)
    delayer = declare(delay, DelayTopicConsumer, topic_options={"deserializer": "raw"})
    with running([orders, delayer], kafka_bootstrap_servers):
        produce(kafka_bootstrap_servers, name, [{"n": 1}])
        assert wait_until(lambda: len(seen.items) >= 2, timeout=60)
    (_, first, first_at, *_), (_, second, second_at, *_) = seen.items
    assert (first, second) == (1, 1)  # a new record, the origin group's count is untouched
    assert second_at - first_at >= 2.0


def test_preflight_reads_group_limits_and_refuses_a_consumer_group_name(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic(share_record_lock_duration_ms=7000, share_delivery_count_limit=4)
    settings = ShareGroupsSettings(
        client="confluent", kafka={"bootstrap.servers": kafka_bootstrap_servers}
    )
    group = declare(name, ShareGroupConsumer)
    limits = ShareConsumerRunner([group], settings=settings).preflight()
    assert (limits[name].record_lock_duration_ms, limits[name].delivery_count_limit) == (7000, 4)

    taken = f"classic-{uuid.uuid4().hex[:8]}"
    classic = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap_servers,
            "group.id": taken,
            "auto.offset.reset": "earliest",
        }
    )
    classic.subscribe([name])
    try:
        deadline = time.monotonic() + 30
        while not classic.assignment() and time.monotonic() < deadline:
            classic.poll(0.2)
        runner = ShareConsumerRunner([declare(taken, ShareGroupConsumer)], settings=settings)
        with pytest.raises(ConfigurationError, match=f"Consumer group\\(s\\) {taken} already"):
            runner.preflight()
    finally:
        classic.close()
