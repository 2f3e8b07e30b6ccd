"""Prefetching on the native adapter, against the real Kafka 4.4 broker: the next ShareFetch goes
out while the caller processes a poll's records (``prefetch``), the next poll hands them over,
and nothing prefetched is lost — not on close, not when its lock runs out, not in the engine."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.clients.base import AcknowledgeType
from django_sharegroups.clients.native import NativeShareConsumer
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.kafka.cluster import Cluster
from django_sharegroups.kafka.config import ConnectionConfig
from django_sharegroups.kafka.protocol.messages import METADATA

from ..helpers import Deliveries, declare, events_of, kafka_settled, produce, running, wait_until
from .helpers import poll_until

pytestmark = pytest.mark.kafka

ACCEPT = AcknowledgeType.ACCEPT


def test_a_pipelined_request_keeps_its_answer_when_another_request_goes_first(
    kafka_bootstrap_servers, share_topic
) -> None:
    name = share_topic()
    cluster = Cluster(ConnectionConfig.from_dict({"bootstrap.servers": kafka_bootstrap_servers}))
    try:
        connection = cluster.connection(cluster.metadata([name]).topics[name].partition_leaders[0])
        topics = {"topics": [{"name": name}], "allow_auto_topic_creation": False}
        pending = connection.begin(METADATA, topics, minimum_version=10)
        none = {"topics": [], "allow_auto_topic_creation": False}
        between = connection.send(METADATA, none, minimum_version=10)
        metadata = connection.finish(pending)
    finally:
        cluster.close()
    assert between.topics == []
    assert [topic.name for topic in metadata.topics] == [name]


def test_prefetched_records_come_with_the_next_poll_and_are_settled_once(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    name = share_topic(share_record_lock_duration_ms=30_000)
    produce(kafka_bootstrap_servers, name, [b"r-%d" % i for i in range(300)])
    client = member(name)
    first = poll_until(client, 1, max_records=100, ack=None)
    client.prefetch(100)  # goes out now; the broker acquires while we acknowledge
    for record in first:
        client.acknowledge(record, ACCEPT)
    seen = list(first)
    polls = 0
    while len(seen) < 300 and polls < 200:
        polls += 1
        records = client.poll(100, 1.0)
        if records and client.last_poll_acquired_at() is not None:
            assert client.last_poll_acquired_at() <= time.time()
        client.prefetch(100)
        for record in records:
            client.acknowledge(record, ACCEPT)
        seen += records
    assert client.commit_sync(10) == []
    assert len(first) <= 100
    counts = Counter(record.offset for record in seen)
    assert sorted(counts) == list(range(300)) and set(counts.values()) == {1}
    assert {record.delivery_count for record in seen} == {1}
    assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), 30)


def test_the_second_poll_hands_over_what_was_prefetched_before_it(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    name = share_topic(share_record_lock_duration_ms=30_000)
    produce(kafka_bootstrap_servers, name, [b"r-%d" % i for i in range(50)])
    client = member(name)
    first = poll_until(client, 1, max_records=10)
    before = time.time()
    client.prefetch(10)
    after = time.time()
    second = client.poll(10, 5.0)
    assert 0 < len(second) <= 10
    acquired_at = client.last_poll_acquired_at()
    # asked for during prefetch(), not during the poll that handed the records over
    assert acquired_at is not None and before <= acquired_at <= after
    assert not {r.offset for r in first} & {r.offset for r in second}
    for record in second:
        client.acknowledge(record, ACCEPT)
    assert client.commit_sync(10) == []
    third = client.poll(10, 5.0)  # a plain poll again: acquired during the poll
    assert client.last_poll_acquired_at() is None and third


def test_a_poll_asking_for_fewer_than_were_prefetched_keeps_the_rest_for_the_next(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    name = share_topic(share_record_lock_duration_ms=30_000)
    produce(kafka_bootstrap_servers, name, [b"r-%d" % i for i in range(100)])
    client = member(name)
    poll_until(client, 1, max_records=5)
    client.prefetch(40)
    small = client.poll(3, 5.0)
    assert len(small) == 3 and client.last_poll_acquired_at() is not None
    rest = client.poll(100, 5.0)
    assert client.last_poll_acquired_at() is not None  # the prefetch's remainder
    assert 0 < len(rest) <= 37
    assert not {r.offset for r in small} & {r.offset for r in rest}
    for record in small + rest:
        client.acknowledge(record, ACCEPT)
    assert client.commit_sync(10) == []


def test_closing_releases_prefetched_records_nobody_polled(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    # a lock of 60 s: the other member gets them at once only if they were released
    name = share_topic(share_record_lock_duration_ms=60_000)
    produce(kafka_bootstrap_servers, name, [b"r-%d" % i for i in range(20)])
    first = member(name)
    taken = poll_until(first, 1, max_records=5)
    first.prefetch(15)
    first.close()
    second = member(name)
    rest = poll_until(second, 20 - len(taken), timeout=30, max_records=20)  # within the lock
    assert sorted(r.offset for r in taken + rest) == list(range(20))
    assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), 30)


def test_prefetched_records_whose_lock_ran_out_are_not_handed_over(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    name = share_topic(share_record_lock_duration_ms=1000)
    produce(kafka_bootstrap_servers, name, [b"r-%d" % i for i in range(10)])
    client = member(name)
    first = poll_until(client, 1, max_records=2)
    client.prefetch(8)
    client.commit_sync(10)  # reads the prefetch's answer: the locks run from its request
    time.sleep(1.5)  # time is the subject: the lock (1 s) runs out before the next poll
    again = client.poll(8, 0.1)
    assert client.last_poll_acquired_at() is None  # nothing prefetched was handed over
    for record in again:
        client.acknowledge(record, ACCEPT)
    # they come back from the broker, one delivery later
    later = again + poll_until(client, 10 - len(first) - len(again), timeout=20, max_records=10)
    assert sorted(r.offset for r in first + later) == list(range(10))
    assert {r.delivery_count for r in later} == {2}


def test_the_engine_prefetches_and_processes_every_record_once(
    kafka_bootstrap_servers, share_topic, monkeypatch
) -> None:
    name = share_topic(3, share_record_lock_duration_ms=30_000)
    count = 3000
    produce(kafka_bootstrap_servers, name, [json.dumps({"n": n}).encode() for n in range(count)])
    seen = Deliveries()
    bus = EventBus()
    failed, expired = events_of(bus, "acks.failed"), events_of(bus, "lock.expired")
    done = threading.Event()
    prefetched: list[float] = []

    class Accept(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                seen.add(message)
                self.mark_accepted(message)
            if len(seen.items) >= count:
                done.set()

    original = NativeShareConsumer.last_poll_acquired_at

    def spy(self):
        value = original(self)
        if value is not None:
            prefetched.append(value)
        return value

    monkeypatch.setattr(NativeShareConsumer, "last_poll_acquired_at", spy)
    # Record-limit fetches throughout: jobs this fast would soon be allowed whole producer
    # batches, which bring this small backlog in one or two polls with nothing to prefetch.
    monkeypatch.setattr(NativeShareConsumer, "acquire_whole_batches", lambda self, allowed: None)
    group = declare(
        name,
        Accept,
        client="native",
        topic_options={"jobs_builder": "per_batch", "max_messages_per_job": 100},
    )
    with running([group], kafka_bootstrap_servers, bus, client="native"):
        assert done.wait(60)
        assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), 30)
    assert seen.counts() == [(n, 1) for n in range(count)]
    assert failed == [] and expired == []
    assert prefetched  # some polls handed over prefetched records
