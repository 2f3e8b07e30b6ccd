"""The processing engine on real Kafka 4.4: worker pools, lapsed leases, shutdown under load."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest
from confluent_kafka import Producer

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.instrumentation import events
from django_sharegroups.kafka.admin import ShareGroupAdmin

from ..helpers import declare, kafka_settled, produce, running, wait_until

pytestmark = pytest.mark.kafka


def test_four_workers_accept_a_thousand_slow_records_exactly_once(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic(partitions=3)
    produce(kafka_bootstrap_servers, name, ({"n": i} for i in range(1000)))
    lock = threading.Lock()
    seen, active = [], {"now": 0, "max": 0}

    class Slow(ShareGroupConsumer):
        def consume(self, messages):
            with lock:
                active["now"] += 1
                active["max"] = max(active["max"], active["now"])
            time.sleep(0.02)
            for message in messages:
                with lock:
                    seen.append(message.coordinates)
                self.mark_accepted(message)
            with lock:
                active["now"] -= 1

    with running([declare(name, Slow, workers_per_consumer=4)], kafka_bootstrap_servers):
        assert wait_until(lambda: len(seen) >= 1000, timeout=120), len(seen)
        assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), timeout=30)
    assert len(seen) == len(set(seen)) == 1000
    assert active["max"] == 4


def test_jobs_never_start_on_a_lapsed_lease(kafka_bootstrap_servers, share_topic):
    """librdkafka returns a whole producer batch per poll; with a 2 s lock and 0.8 s jobs the
    tail of the batch lapses before its turn and must not be processed on that delivery."""
    name = share_topic(share_record_lock_duration_ms=2000)
    produce(kafka_bootstrap_servers, name, ({"n": i} for i in range(5)), one_batch=True)
    lock = threading.Lock()
    processed, hooked = [], []
    bus_events = []

    def capture(event, payload):
        bus_events.append(payload)

    class Slow(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                with lock:
                    processed.append((message.payload["n"], message.delivery_count))
                if message.delivery_count == 1:
                    time.sleep(0.8)
                self.mark_accepted(message)

        def lock_expired(self, message):
            hooked.append((message.payload["n"], message.delivery_count))

    events.subscribe("lock.expired", capture)
    try:
        group = declare(name, Slow, record_lock_duration_ms=2000)
        with running([group], kafka_bootstrap_servers):
            assert wait_until(lambda: {n for n, _ in processed} == set(range(5)), timeout=60), (
                processed
            )
            # nothing can come again once the group's lag is 0
            assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), timeout=30)
    finally:
        events.unsubscribe("lock.expired", capture)
    first_deliveries = {n for n, count in processed if count == 1}
    assert {0, 1} <= first_deliveries <= {0, 1, 2}
    assert len(processed) == len(set(processed))  # never twice on one delivery
    assert {n for n, _ in hooked} >= {3, 4}
    skipped = [e for e in bus_events if e["share_group"] == name and not e["processed"]]
    assert {e["record"] for e in skipped} >= {f"{name}[0]@3", f"{name}[0]@4"}


def test_shutdown_under_load_loses_nothing(kafka_bootstrap_servers, share_topic):
    name = share_topic(partitions=3)
    total = 2000
    produce(kafka_bootstrap_servers, name, ({"n": i} for i in range(total)))
    lock = threading.Lock()
    runs: list[list] = [[], []]

    def consumer_for(run: int):
        class Busy(ShareGroupConsumer):
            def consume(self, messages):
                time.sleep(0.005)
                for message in messages:
                    self.mark_accepted(message)
                    with lock:
                        runs[run].append(message.coordinates)

        return Busy

    group = declare(name, consumer_for(0), concurrency=2, workers_per_consumer=4)
    with running([group], kafka_bootstrap_servers):
        assert wait_until(lambda: len(runs[0]) >= 300, timeout=60)
    assert len(runs[0]) < total
    group = declare(name, consumer_for(1), concurrency=2, workers_per_consumer=4)
    with running([group], kafka_bootstrap_servers):
        assert wait_until(lambda: len(runs[0]) + len(runs[1]) >= total, timeout=120)
        assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), timeout=30)
    assert not set(runs[0]) & set(runs[1])
    assert len(set(runs[0]) | set(runs[1])) == len(runs[0]) + len(runs[1]) == total


def test_event_bus_reports_acks_per_type(kafka_bootstrap_servers, share_topic):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, [{"do": "accept"}, {"do": "reject"}])
    bus_acks = []

    def capture(event, payload):
        if payload["share_group"] == name:
            bus_acks.append(payload["counts"])

    class Mixed(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                if message.payload["do"] == "accept":
                    self.mark_accepted(message)
                else:
                    self.mark_rejected(message)

    def total() -> Counter:
        return sum((Counter(counts) for counts in bus_acks), Counter())

    events.subscribe("acks.sent", capture)
    try:
        with running([declare(name, Mixed)], kafka_bootstrap_servers):
            assert wait_until(lambda: sum(total().values()) >= 2, timeout=60)
    finally:
        events.unsubscribe("acks.sent", capture)
    # one event per topic for the jobs settled together: the two jobs may share one
    assert total() == {"ACCEPT": 1, "REJECT": 1}


def test_an_undecodable_record_is_settled_per_policy_and_never_consumed(
    kafka_bootstrap_servers, share_topic
):
    """Kafka 4.4, confluent adapter: the bad record is REJECTed before any consume sees it;
    every good payload is decoded exactly once though the consumer reads it twice."""
    name = share_topic()
    producer = Producer({"bootstrap.servers": kafka_bootstrap_servers})
    for value in (b'{"n": 0}', b"{not json", b'{"n": 2}'):
        producer.produce(name, value)
    assert producer.flush(30) == 0
    lock = threading.Lock()
    decoded, seen, reported = [], [], []

    def counting(raw):
        with lock:
            decoded.append(raw)
        return json.loads(raw)

    class ReadsTwice(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                with lock:
                    seen.append((message.offset, message.payload, message.payload))
                self.mark_accepted(message)

    def report(event, payload):
        if payload["share_group"] == name:
            reported.append((payload["record"], payload["action"]))

    events.subscribe("record.undeserializable", report)
    try:
        group = declare(name, ReadsTwice, topic_options={"deserializer": counting})
        with running([group], kafka_bootstrap_servers):
            assert wait_until(lambda: len(seen) == 2 and reported, timeout=60)
            with ShareGroupAdmin({"bootstrap.servers": kafka_bootstrap_servers}) as admin:
                assert wait_until(
                    lambda: [p.lag for p in admin.share_group_offsets(name)] == [0], timeout=60
                )
    finally:
        events.unsubscribe("record.undeserializable", report)
    assert seen == [(0, {"n": 0}, {"n": 0}), (2, {"n": 2}, {"n": 2})]
    assert reported == [(f"{name}[0]@1", "REJECT")]
    assert sorted(decoded) == sorted([b'{"n": 0}', b"{not json", b'{"n": 2}'])
