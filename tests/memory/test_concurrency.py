"""Many threads on one broker; polls that wait and wake up."""

from __future__ import annotations

import threading
import time

import pytest

from django_sharegroups.clients.memory import (
    ManualClock,
    MemoryBroker,
    MemoryClientFactory,
    MemoryShareConsumer,
    SystemClock,
)

from ..helpers import numbered, produce
from .helpers import ACCEPT, GROUP, RELEASE, TOPIC, MakeMember, earliest

RECORDS = 10_000
THREADS = 8


@pytest.mark.parametrize("partitions", [1, 3])
def test_concurrent_members_accept_every_record_exactly_once(
    clock: ManualClock, partitions: int
) -> None:
    manual_broker = MemoryBroker(clock=clock)
    manual_broker.create_topic("load", partitions=partitions)
    earliest(manual_broker)
    factory = MemoryClientFactory(manual_broker)
    consumers = [factory.create(GROUP, client_id=f"c{i}") for i in range(THREADS)]
    for consumer in consumers:
        consumer.subscribe(["load"])
    accepted: list[tuple[int, int]] = []
    errors: list[object] = []
    done = threading.Event()
    give_up = time.monotonic() + 120

    def work(consumer: MemoryShareConsumer) -> None:
        try:
            while not done.is_set() and time.monotonic() < give_up:
                for record in consumer.poll(50, 0.01):
                    if record.delivery_count == 1 and record.offset % 7 == 0:
                        consumer.acknowledge(record, RELEASE)  # redelivered, maybe elsewhere
                    else:
                        consumer.acknowledge(record, ACCEPT)
                        accepted.append((record.partition, record.offset))
                errors.extend(consumer.commit_sync(1))
                if len(accepted) >= RECORDS:
                    done.set()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
            done.set()

    def feed() -> None:
        for index in range(RECORDS):
            manual_broker.produce("load", str(index).encode())

    threads = [threading.Thread(target=work, args=(c,)) for c in consumers]
    threads.append(threading.Thread(target=feed))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for consumer in consumers:
        consumer.close()

    assert errors == []
    assert len(accepted) == len(set(accepted)) == RECORDS
    ends = {p: manual_broker.log_end_offset("load", p) for p in range(partitions)}
    assert sorted(accepted) == sorted((p, o) for p, end in ends.items() for o in range(end))
    for partition, end in ends.items():
        view = manual_broker.share_partition(GROUP, "load", partition)
        assert (view.start_offset, view.end_offset, view.in_flight_count) == (end, end, 0)
    assert manual_broker.acquired_count(GROUP) == 0


def _poll_in_thread(consumer: MemoryShareConsumer, timeout: float) -> dict:
    result: dict = {}

    def run() -> None:
        started = time.monotonic()
        result["records"] = consumer.poll(10, timeout)
        result["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()
    result["thread"] = thread
    return result


def test_a_waiting_poll_wakes_up_when_a_record_is_produced(
    manual_broker: MemoryBroker, member: MakeMember
) -> None:
    consumer = member()
    consumer.poll(1, 0)  # initialise the share partition (latest)
    waiting = _poll_in_thread(consumer, timeout=10)
    time.sleep(0.05)
    manual_broker.produce(TOPIC, b"wake up")
    waiting["thread"].join(5)
    assert [r.value for r in waiting["records"]] == [b"wake up"]
    assert waiting["elapsed"] < 5


def test_a_poll_with_a_manual_clock_still_times_out_in_real_time(member: MakeMember) -> None:
    started = time.monotonic()
    assert member().poll(10, 0.05) == []
    assert 0.04 <= time.monotonic() - started < 2


def test_advancing_the_manual_clock_wakes_a_poll_waiting_for_an_expiring_lock(
    manual_broker: MemoryBroker, member: MakeMember, clock: ManualClock
) -> None:
    earliest(manual_broker)
    produce(manual_broker, TOPIC, numbered(1))
    owner, other = member(), member()
    owner.poll(10, 0)
    waiting = _poll_in_thread(other, timeout=10)
    time.sleep(0.05)
    assert waiting["thread"].is_alive()
    clock.advance(30)
    waiting["thread"].join(5)
    assert [r.delivery_count for r in waiting["records"]] == [2]
    assert waiting["elapsed"] < 5


def test_real_lock_expiry_wakes_a_waiting_poll() -> None:
    manual_broker = MemoryBroker(
        clock=SystemClock(), config={"group.share.min.record.lock.duration.ms": 100}
    )
    manual_broker.create_topic(TOPIC)
    earliest(manual_broker, extra={"share.record.lock.duration.ms": 200})
    produce(manual_broker, TOPIC, numbered(1))
    factory = MemoryClientFactory(manual_broker)
    owner, other = factory.create(GROUP, client_id="a"), factory.create(GROUP, client_id="b")
    owner.subscribe([TOPIC])
    other.subscribe([TOPIC])
    assert len(owner.poll(10, 0)) == 1
    started = time.monotonic()
    records = other.poll(10, 5)
    elapsed = time.monotonic() - started
    assert [r.delivery_count for r in records] == [2]
    assert elapsed >= 0.1  # woke by the expiry (the records say so), not before it
    owner.close()
    other.close()
