"""The engine on the native adapter and real Kafka 4.4: what RENEW and holding records across
polls make possible (auto-renew for long jobs, delayed releases longer than the lock), and a
consumer process killed with SIGKILL mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.instrumentation import EventBus

from ..helpers import (
    Deliveries,
    declare,
    events_of,
    kafka_settled,
    produce,
    released_once,
    running,
    wait_until,
)
from .helpers import poll_until

pytestmark = pytest.mark.kafka

LOCK_MS = 1000
ROOT = Path(__file__).resolve().parents[2]


def test_auto_renew_keeps_a_job_of_three_locks_and_accepts_it_once(
    kafka_bootstrap_servers, share_topic
) -> None:
    name = share_topic(share_record_lock_duration_ms=LOCK_MS)
    produce(kafka_bootstrap_servers, name, [{"n": n} for n in range(2)])
    seen = Deliveries()
    bus = EventBus()
    renewed, expired = events_of(bus, "lock.renewed"), events_of(bus, "lock.expired")
    failed = events_of(bus, "acks.failed")
    finished = threading.Event()

    class Long(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                seen.add(message)
            time.sleep(3 * LOCK_MS / 1000)
            for message in messages:
                self.mark_accepted(message)
            finished.set()

    # renewing at 0.3 of the lock leaves 700 ms for the RENEW to reach a loaded broker
    group = declare(
        name,
        Long,
        client="native",
        concurrency=2,
        topic_options={
            "jobs_builder": "per_batch",
            "max_messages_per_job": 2,
            "renew_fraction": 0.3,
        },
    )
    with running([group], kafka_bootstrap_servers, bus, client="native"):
        assert finished.wait(20)
        assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), 30)
    assert seen.counts() == [(0, 1), (1, 1)]
    assert expired == [] and failed == []
    assert len(renewed) >= 4  # two records, renewed every 0.3 s for 3 s


def test_a_delayed_release_longer_than_the_lock_comes_back_after_its_delay(
    kafka_bootstrap_servers, share_topic
) -> None:
    name = share_topic(share_record_lock_duration_ms=LOCK_MS)
    produce(kafka_bootstrap_servers, name, [{"n": 0}])
    seen = Deliveries()
    bus = EventBus()
    delayed = events_of(bus, "release.delayed")
    delay_ms = 3 * LOCK_MS

    RetryLater = released_once(seen, delay_ms)

    group = declare(
        name, RetryLater, client="native", concurrency=2, topic_options={"renew_fraction": 0.3}
    )
    with running([group], kafka_bootstrap_servers, bus, client="native"):
        assert wait_until(lambda: len(seen.items) >= 2, 20)
        assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), 30)
    (first_count, first_at), (second_count, second_at) = seen.of(0)
    assert (first_count, second_count) == (1, 2)  # the same record, delivered again
    assert second_at - first_at >= delay_ms / 1000 - 0.1
    assert [event["delay_ms"] for event in delayed] and delayed[0]["delay_ms"] >= delay_ms - 100
    assert len(seen.items) == 2


def test_a_killed_consumer_process_leaves_its_records_to_another_member(
    kafka_bootstrap_servers, share_topic, member
) -> None:
    name = share_topic(share_record_lock_duration_ms=LOCK_MS)
    produce(kafka_bootstrap_servers, name, [b"%d" % n for n in range(5)], config={"linger.ms": 50})
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.native.crash_process", kafka_bootstrap_servers, name],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        jobs = []
        deadline = time.monotonic() + 30
        while len(jobs) < 5 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("JOB "):
                jobs.append(int(line.split()[2]))
            assert process.poll() is None, "the consumer process died by itself"
        assert sorted(jobs) == [0, 1, 2, 3, 4]
        time.sleep(2 * LOCK_MS / 1000)  # mid-job past two locks: auto-renew holds them
        other = member(name)
        assert other.poll(10, 0.5) == []
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        killed_at = time.monotonic()
        records = poll_until(other, 5, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        process.stdout.close()
    assert sorted(r.offset for r in records) == [0, 1, 2, 3, 4]
    assert {r.delivery_count for r in records} == {2}
    assert time.monotonic() - killed_at < 15
