"""Acquisition sized by time on Kafka 4.4: a live stream is kept up with (polls grow past one
record per job), a backlog of slow jobs under a short lock never lapses under the native
adapter, and librdkafka's over-acquisition is reported with numbers."""

from __future__ import annotations

import json
import threading
import time

import pytest
from confluent_kafka import Producer

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.kafka.admin import ShareGroupAdmin
from django_sharegroups.runtime.runner import ShareConsumerRunner

from ..helpers import Deliveries, accepting, declare, wait_until

pytestmark = pytest.mark.kafka

LOCK_MS = 5000
JOB_SECONDS = 0.3


def events_of(bus: EventBus, name: str) -> list[dict]:
    captured: list[dict] = []
    bus.subscribe(name, lambda event, payload: captured.append(payload))
    return captured


def runner_for(group, client: str, bootstrap: str, bus: EventBus) -> ShareConsumerRunner:
    return ShareConsumerRunner(
        [group],
        settings=ShareGroupsSettings(
            client=client, kafka={"bootstrap.servers": bootstrap}, poll_timeout=0.2
        ),
        bus=bus,
    )


def produce_backlog(bootstrap: str, topic: str, count: int) -> None:
    """``count`` records in as few producer batches as possible."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 500})
    for n in range(count):
        producer.produce(topic, json.dumps({"n": n}).encode())
    assert producer.flush(30) == 0


class Slow(ShareGroupConsumer):
    collector: Deliveries

    def consume(self, messages):
        for message in messages:
            time.sleep(JOB_SECONDS)
            type(self).collector.add(message)
            self.mark_accepted(message)


def test_per_message_keeps_up_with_a_live_stream_by_polling_more_than_one_record(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic(partitions=3)
    fast = accepting()
    collector = fast.collector
    bus = EventBus()
    polls = events_of(bus, "poll")
    runner = runner_for(declare(name, fast), "native", kafka_bootstrap_servers, bus)
    runner.start()
    total = 3000
    stop = threading.Event()

    def stream():  # a steady stream: 10 records every 10 ms, about 1,000 records/s
        producer = Producer({"bootstrap.servers": kafka_bootstrap_servers, "linger.ms": 5})
        for n in range(total):
            producer.produce(name, json.dumps({"n": n}).encode())
            if n % 10 == 9:
                producer.poll(0)
                if stop.wait(0.01):
                    break
        producer.flush(30)

    producer_thread = threading.Thread(target=stream)
    producer_thread.start()
    try:
        producer_thread.join(120)
        assert wait_until(lambda: len(collector) >= total, timeout=60)
        with ShareGroupAdmin({"bootstrap.servers": kafka_bootstrap_servers}) as admin:
            assert wait_until(
                lambda: sum(p.lag or 0 for p in admin.share_group_offsets(name)) == 0, timeout=30
            )
    finally:
        stop.set()
        producer_thread.join(30)
        assert runner.shutdown() == 0
    assert sorted(p["n"] for p in collector.payloads()) == list(range(total))
    # per_message, one worker: the old rule asked for one record per poll (a round trip each)
    assert max(p["asked"] for p in polls) > 1
    assert max(p["records"] for p in polls) > 1


def test_a_slow_backlog_under_a_short_lock_never_lapses_under_the_native_adapter(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic(share_record_lock_duration_ms=LOCK_MS)
    total = 40
    produce_backlog(kafka_bootstrap_servers, name, total)
    consumer = type("SlowNative", (Slow,), {"collector": Deliveries()})
    bus = EventBus()
    expired, exceeded = events_of(bus, "lock.expired"), events_of(bus, "acquisition.exceeded")
    polls, sized = events_of(bus, "poll"), events_of(bus, "acquisition.sized")
    group = declare(
        name, consumer, client="native", workers_per_consumer=2, topic_options={"auto_renew": False}
    )
    runner = runner_for(group, "native", kafka_bootstrap_servers, bus)
    runner.start()
    try:
        assert wait_until(lambda: len(consumer.collector) >= total, timeout=120)
    finally:
        assert runner.shutdown() == 0
    assert expired == [] and exceeded == []
    deliveries = [d.delivery_count for d in consumer.collector.items]
    assert len(deliveries) == total and set(deliveries) == {1}  # each processed once, in time
    assert sized[0]["lock_ms"] == LOCK_MS and not sized[0]["renewing"]
    # the polls grew past one job per worker, and never past what fits in half a lock
    fits = 2 * int(LOCK_MS / 1000 * 0.5 / JOB_SECONDS)
    assert 2 < max(p["asked"] for p in polls) <= fits


def test_librdkafka_over_acquisition_is_reported_with_numbers(
    kafka_bootstrap_servers, share_topic, caplog
):
    name = share_topic(share_record_lock_duration_ms=LOCK_MS)
    total = 40
    produce_backlog(kafka_bootstrap_servers, name, total)
    consumer = type("SlowConfluent", (Slow,), {"collector": Deliveries()})
    bus = EventBus()
    exceeded = events_of(bus, "acquisition.exceeded")
    from django_sharegroups.instrumentation.logging_listener import log_event

    bus.subscribe("acquisition.exceeded", log_event)
    group = declare(
        name,
        consumer,
        topic_options={"auto_renew": False},
    )
    runner = runner_for(group, "confluent", kafka_bootstrap_servers, bus)
    runner.start()
    try:
        assert wait_until(lambda: exceeded, timeout=60)
    finally:
        runner.shutdown()
    first = exceeded[0]
    assert first["client"] == "confluent" and first["received"] > first["asked"] >= 1
    assert f"asked for {first['asked']} record(s)" in caplog.text
    assert f"acquired {first['received']}" in caplog.text


def test_fast_jobs_on_a_backlog_acquire_whole_producer_batches_under_the_native_adapter(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic()
    total = 6000
    produce_backlog(kafka_bootstrap_servers, name, total)
    fast = accepting()
    collector = fast.collector
    bus = EventBus()
    polls, sized = events_of(bus, "poll"), events_of(bus, "acquisition.sized")
    exceeded = events_of(bus, "acquisition.exceeded")
    options = {"jobs_builder": "per_batch", "max_messages_per_job": 100}
    group = declare(name, fast, client="native", topic_options=options)
    runner = runner_for(group, "native", kafka_bootstrap_servers, bus)
    runner.start()
    try:
        assert wait_until(lambda: len(collector) >= total, timeout=120)
    finally:
        assert runner.shutdown() == 0
    assert sorted(p["n"] for p in collector.payloads()) == list(range(total))
    assert {d.delivery_count for d in collector.items} == {1}
    # Jobs this fast finish whole producer batches long before a lock runs out: polls were
    # allowed to take more than they asked for, said so once, and that is no over-acquisition.
    assert not sized[0]["whole_batches"] and any(s["whole_batches"] for s in sized)
    assert any(p["records"] > p["asked"] for p in polls)
    assert exceeded == []
