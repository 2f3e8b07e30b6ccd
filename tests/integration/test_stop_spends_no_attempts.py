"""A stop that arrives while a poll's jobs run, on Kafka 4.4: when the held records take the
workers a moment, they are still processed, so the stop spends no delivery attempt on them;
when they would take long, the jobs not started yet release theirs and the stop stays quick,
except for records at their last attempt (released, the broker would archive them unseen)."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from confluent_kafka import AcknowledgeType, Producer, ShareConsumer

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.runtime.runner import ShareConsumerRunner

from ..helpers import Deliveries, declare

pytestmark = pytest.mark.kafka

TOTAL = 3000


def produce_in_large_batches(
    bootstrap: str, topic: str, total: int = TOTAL, partitions: int = 3
) -> None:
    """``total`` records in as few producer batches as possible: one poll holds many jobs."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 500})
    for n in range(total):
        producer.produce(topic, f'{{"n": {n}}}'.encode(), partition=n % partitions)
    assert producer.flush(30) == 0


def stopping_consumer(job_seconds: float) -> type[ShareGroupConsumer]:
    """Accepts each record after ``job_seconds`` per job; its second job sets ``stop`` (the
    runner's, as a SIGTERM would, while the rest of the poll waits), once the first job has
    shown the pace."""

    class Stopping(ShareGroupConsumer):
        collector = Deliveries()
        jobs = 0
        stop: threading.Event

        def consume(self, messages):
            type(self).jobs += 1
            if type(self).jobs == 2:
                type(self).stop.set()
            time.sleep(job_seconds)
            for message in messages:
                type(self).collector.add(message)
                self.mark_accepted(message)

    return Stopping


def the_rest(bootstrap: str, group: str, topic: str, expected: int) -> dict[int, int]:
    """Delivery count of each record another member gets afterwards, by ``n``."""
    consumer = ShareConsumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "share.acknowledgement.mode": "explicit",
        }
    )
    consumer.subscribe([topic])
    counts: dict[int, int] = {}
    deadline = time.monotonic() + 60
    try:
        while len(counts) < expected and time.monotonic() < deadline:
            for message in consumer.poll(0.5):
                if message.error() is None:
                    counts[json.loads(message.value())["n"]] = message.delivery_count()
                    consumer.acknowledge(message, AcknowledgeType.ACCEPT)
        consumer.commit_sync()
    finally:
        consumer.close()
    return counts


def run_until_stopped(bootstrap: str, name: str, client: str, job_seconds: float, per_job: int):
    """Until the second job stopped the runner: what was processed, the records each poll
    (prefetched ones included) took, and how long the stop took."""
    consumer = stopping_consumer(job_seconds)
    options = {"jobs_builder": "per_batch", "max_messages_per_job": per_job}
    bus = EventBus()
    polled: list[int] = []
    bus.subscribe("poll", lambda event, payload: polled.append(payload["records"]))
    runner = ShareConsumerRunner(
        [declare(name, consumer, client=client, topic_options=options)],
        settings=ShareGroupsSettings(
            client=client, kafka={"bootstrap.servers": bootstrap}, poll_timeout=0.2
        ),
        bus=bus,
    )
    consumer.stop = runner.stop_event
    runner.start()
    assert runner.stop_event.wait(60), "no second job"
    began = time.monotonic()
    assert runner.shutdown() == 0
    return consumer.collector, sum(polled), time.monotonic() - began


@pytest.mark.parametrize("client", ["confluent", "native"])
def test_a_stop_processes_the_held_records_that_take_a_moment(
    kafka_bootstrap_servers, share_topic, client, caplog
):
    caplog.set_level(logging.INFO, logger="django_sharegroups.runtime")
    name = share_topic(partitions=3)
    produce_in_large_batches(kafka_bootstrap_servers, name)
    seen, polled, _ = run_until_stopped(kafka_bootstrap_servers, name, client, 0.001, 20)
    processed = {d.payload["n"] for d in seen.items}
    # every record acquired was processed once, those after the stop's job included
    assert len(processed) == len(seen) == polled > 2 * 20
    rest = the_rest(kafka_bootstrap_servers, name, name, TOTAL - len(processed))
    assert not processed & set(rest) and len(processed) + len(rest) == TOTAL
    assert set(rest.values()) == {1}, "the stop spent delivery attempts"
    assert "held are processed first" in caplog.text


def test_a_stop_releases_the_jobs_that_would_keep_it_waiting(
    kafka_bootstrap_servers, share_topic, caplog
):
    caplog.set_level(logging.INFO, logger="django_sharegroups.runtime")
    name = share_topic(partitions=3)
    produce_in_large_batches(kafka_bootstrap_servers, name)
    # librdkafka hands over whole producer batches: many more than 2 s of 0.5 s jobs
    seen, polled, seconds = run_until_stopped(kafka_bootstrap_servers, name, "confluent", 0.5, 1)
    assert len(seen) == 2 and polled > 6 and seconds < 5
    rest = the_rest(kafka_bootstrap_servers, name, name, TOTAL - len(seen))
    assert len(rest) == TOTAL - len(seen)
    assert 2 in set(rest.values())  # released unstarted: their next delivery is the second
    assert "take over 2 s: jobs not started yet release theirs" in caplog.text


def test_a_stop_still_runs_the_jobs_of_records_at_their_last_attempt(
    kafka_bootstrap_servers, share_topic
):
    name = share_topic(partitions=1, share_delivery_count_limit=2)
    produce_in_large_batches(kafka_bootstrap_servers, name, total=8, partitions=1)
    consumer = ShareConsumer(
        {
            "bootstrap.servers": kafka_bootstrap_servers,
            "group.id": name,
            "share.acknowledgement.mode": "explicit",
        }
    )
    consumer.subscribe([name])
    released = 0
    try:  # every first delivery RELEASEd: the next is the last of the limit of 2
        while released < 8:
            for message in consumer.poll(0.5):
                consumer.acknowledge(message, AcknowledgeType.RELEASE)
                released += 1
        consumer.commit_sync()
    finally:
        consumer.close()
    # 8 jobs of 0.5 s are more than 2 s of work, but releasing any would archive it unseen
    seen, _, _ = run_until_stopped(kafka_bootstrap_servers, name, "confluent", 0.5, 1)
    assert sorted((d.payload["n"], d.delivery_count) for d in seen.items) == [
        (n, 2) for n in range(8)
    ]
