"""Retries on the in-memory broker (it can RENEW): delayed release, lock extension, DLQ,
poison records, and the startup errors of features an adapter cannot honour."""

from __future__ import annotations

import time

import pytest

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.clients.base import ProduceError
from django_sharegroups.clients.confluent import ConfluentClientFactory
from django_sharegroups.clients.memory import ArchiveReason, MemoryClientFactory
from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.exceptions import CapabilityError, ConfigurationError
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.runtime.runner import ShareConsumerRunner

from ..helpers import (
    Deliveries,
    declare,
    events_of,
    prepare,
    produce,
    released_once,
    running,
    settled,
    wait_until,
)

LOCK = {"share.record.lock.duration.ms": 1000}


@pytest.mark.parametrize("delay_ms", [300, 2500])
def test_delayed_release_comes_back_after_the_delay_with_one_more_delivery(broker, delay_ms):
    """2500 ms is 2.5 locks: RENEW keeps the record held until the release."""
    prepare(broker, "delayed", **LOCK)
    produce(broker, "delayed", [{"n": 0}])
    seen = Deliveries()
    bus = EventBus()
    expired = events_of(bus, "lock.expired")

    RetryLater = released_once(seen, delay_ms)

    with running([declare("delayed", RetryLater)], broker, bus=bus):
        assert wait_until(lambda: settled(broker, "delayed"), timeout=60)
    (first_count, first_at), (second_count, second_at) = seen.of(0)
    assert (first_count, second_count) == (1, 2)
    assert second_at - first_at >= delay_ms / 1000
    assert expired == []
    assert broker.archived_records("delayed") == []


def test_delayed_releases_are_bounded_and_drained_on_shutdown(broker):
    prepare(broker, "bounded")
    produce(broker, "bounded", [{"n": 0}, {"n": 1}])
    bus = EventBus()
    overflow = events_of(bus, "release.overflow")
    seen = Deliveries()

    class Hold(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                seen.add(message)
                self.mark_released(message, delay=60_000)

    group = declare("bounded", Hold, max_delayed_releases=1)
    with running([group], broker, bus=bus):
        # one is held for a minute; the other overflowed into an immediate release and
        # keeps coming back until the structure has room (it never does here)
        assert wait_until(lambda: overflow, timeout=60)
    assert overflow[0]["share_group"] == "bounded"
    # shutdown released the held record at once: nothing is acquired any more
    assert broker.acquired_count("bounded") == 0
    states = [broker.record_state("bounded", "bounded", 0, o).state.name for o in (0, 1)]
    assert "ACQUIRED" not in states


def test_extend_lock_keeps_a_long_job_from_expiring(broker):
    prepare(broker, "extend", **LOCK)
    produce(broker, "extend", [{"n": 0}])
    seen = Deliveries()

    class Long(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                seen.add(message)
                for _ in range(10):  # 2.5 s, 2.5 locks, extended every quarter lock
                    time.sleep(0.25)
                    self.extend_lock(message)
                self.mark_accepted(message)

    group = declare("extend", Long, topic_options={"auto_renew": False})
    with running([group], broker):
        # an expired lock would refuse the ACCEPT: the record would come back before this
        assert wait_until(lambda: settled(broker, "extend"), 60)
    assert [count for count, _ in seen.of(0)] == [1]
    assert broker.archived_records("extend") == []


def test_auto_renew_lets_a_job_run_three_locks_and_accepts_it_once(broker):
    prepare(broker, "auto", **LOCK)
    produce(broker, "auto", [{"n": 0}, {"n": 1}])
    seen = Deliveries()
    bus = EventBus()
    renewed = events_of(bus, "lock.renewed")
    expired = events_of(bus, "lock.expired")

    class Long(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                seen.add(message)
                time.sleep(3.0)
                self.mark_accepted(message)

    # Renewing at 0.3 of the lock leaves 700 ms for the RENEW to reach a loaded broker.
    group = declare(
        "auto",
        Long,
        topic_options={
            "jobs_builder": "per_batch",
            "max_messages_per_job": 2,
            "renew_fraction": 0.3,
        },
    )
    with running([group], broker, bus=bus):
        assert wait_until(lambda: settled(broker, "auto"), 20)
    assert seen.counts() == [(0, 1), (1, 1)]
    assert expired == []
    assert len(renewed) >= 4  # two records, renewed at 0.3 s intervals for 6 s of jobs


def test_dead_letter_queue_after_max_retries(broker):
    prepare(broker, "orders", **{"share.delivery.count.limit": 5})
    broker.create_topic("orders-dlq", 1)
    broker.produce("orders", b'{"n": 7}', key=b"order-7", headers=[("trace", b"abc")])
    bus = EventBus()
    dispatched = events_of(bus, "dlq.dispatched")
    archived = events_of(bus, "record.archived")
    seen = Deliveries()

    class Failing(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                seen.add(message)
            raise RuntimeError("payment service down")

    group = declare(
        "orders",
        Failing,
        topic_options={"dead_letter_queue": {"topic": "orders-dlq", "max_retries": 3}},
    )
    with running([group], broker, bus=bus):
        assert wait_until(lambda: settled(broker, "orders"), timeout=60)
    assert [count for count, _ in seen.of(7)] == [1, 2, 3]
    [copy] = broker.read_records("orders-dlq", 0)
    headers = dict(copy.headers)
    assert copy.value == b'{"n": 7}' and copy.key == b"order-7"
    assert headers["trace"] == b"abc"
    assert headers["sharegroups.dlq.topic"] == b"orders"
    assert headers["sharegroups.dlq.offset"] == b"0"
    assert headers["sharegroups.dlq.delivery-count"] == b"3"
    assert headers["sharegroups.dlq.error-class"] == b"RuntimeError"
    assert headers["sharegroups.dlq.error-message"] == b"payment service down"
    assert headers["sharegroups.dlq.key"] == b"order-7"
    assert int(headers["sharegroups.dlq.dead-lettered-at"]) > 0
    assert [(r.offset, r.reason) for r in broker.archived_records("orders")] == [
        (0, ArchiveReason.REJECTED)
    ]
    assert dispatched[0]["dlq_topic"] == "orders-dlq" and dispatched[0]["dlq_offset"] == 0
    assert [(a["offset"], a["reason"]) for a in archived] == [(0, "rejected")]


def test_explicit_dispatch_and_a_failing_dlq_never_lose_the_record(broker):
    prepare(broker, "explicit")
    broker.create_topic("explicit-dlq", 1)
    produce(broker, "explicit", [{"n": 1}, {"n": 2}])
    factory = MemoryClientFactory(broker)
    real_producer = factory.producer()
    failing_once = {"left": 1}

    class FlakyProducer:
        def produce(self, topic, value, **kwargs):
            if failing_once["left"]:
                failing_once["left"] -= 1
                raise ProduceError("NOT_ENOUGH_REPLICAS: simulated")
            return real_producer.produce(topic, value, **kwargs)

        def close(self, timeout=30.0):
            pass

    factory._producer = FlakyProducer()
    bus = EventBus()
    failed = events_of(bus, "dlq.failed")
    dispatched = events_of(bus, "dlq.dispatched")
    seen = Deliveries()

    class Explicit(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                seen.add(message)
                self.dispatch_to_dlq(message, "schema v1 is gone")

    group = declare(
        "explicit", Explicit, topic_options={"dead_letter_queue": {"topic": "explicit-dlq"}}
    )
    runner = ShareConsumerRunner(
        [group],
        settings=ShareGroupsSettings(client="memory", poll_timeout=0.05),
        factories={"memory": factory},
        bus=bus,
    )
    runner.start()
    try:
        assert wait_until(lambda: len(dispatched) >= 2, timeout=60)
    finally:
        assert runner.shutdown() == 0
    assert failed[0]["error"] == "NOT_ENOUGH_REPLICAS: simulated"
    # the record whose copy failed was RELEASEd, came back and went to the DLQ next time
    assert sorted(count for _, count in seen.counts()) == [1, 1, 2]
    copies = broker.read_records("explicit-dlq", 0)
    assert sorted(c.value for c in copies) == [b'{"n": 1}', b'{"n": 2}']
    assert {dict(c.headers)["sharegroups.dlq.error-message"] for c in copies} == {
        b"schema v1 is gone"
    }


def test_poison_observer_reports_records_the_broker_archives(broker):
    prepare(broker, "poison", **{**LOCK, "share.delivery.count.limit": 2})
    produce(
        broker,
        "poison",
        [{"n": 0, "do": "reject"}, {"n": 1, "do": "release"}, {"n": 2, "do": "sleep"}],
    )
    bus = EventBus()
    archived = events_of(bus, "record.archived")

    class Poison(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                action = message.payload["do"]
                if action == "reject":
                    self.mark_rejected(message)
                elif action == "release":
                    self.mark_released(message)
                else:
                    time.sleep(1.2)  # outlives the lock, twice
                    self.mark_accepted(message)

    group = declare("poison", Poison, topic_options={"auto_renew": False})
    with running([group], broker, bus=bus):
        assert wait_until(lambda: len(archived) >= 3, timeout=20), archived
    assert sorted((a["offset"], a["reason"], a["delivery_count"]) for a in archived) == [
        (0, "rejected", 1),
        (1, "delivery_limit", 2),
        (2, "lock_expiry_at_limit", 2),
    ]
    reasons = {r.offset: r.reason for r in broker.archived_records("poison")}
    assert reasons[0] == ArchiveReason.REJECTED
    assert reasons[1] == reasons[2] == ArchiveReason.DELIVERY_COUNT_EXCEEDED


def confluent_runner(group, lock_ms=None):
    factory = ConfluentClientFactory({"bootstrap.servers": "127.0.0.1:1"})
    factory.share_group_config = lambda group_id: (
        {"share.record.lock.duration.ms": str(lock_ms)} if lock_ms else {}
    )
    factory.preflight = lambda group_ids: None
    return ShareConsumerRunner(
        [group],
        settings=ShareGroupsSettings(client="confluent", kafka={}),
        factories={"confluent": factory},
    )


def test_a_release_delay_that_can_never_fit_the_lock_fails_at_startup():
    group = declare("slow", ShareGroupConsumer, topic_options={"max_release_delay": 45_000})
    with pytest.raises(ConfigurationError, match=r"'confluent' client adapter: it has no RENEW"):
        confluent_runner(group, lock_ms=30_000).start()
    fits = declare("ok", ShareGroupConsumer, topic_options={"max_release_delay": 5_000})
    limits = confluent_runner(fits, lock_ms=30_000).preflight()
    assert limits["ok"].record_lock_duration_ms == 30_000


def test_auto_renew_on_an_adapter_without_renew_fails_at_startup():
    group = declare("renewing", ShareGroupConsumer, topic_options={"auto_renew": True})
    with pytest.raises(CapabilityError, match="'renew' capability, which the 'confluent'"):
        confluent_runner(group).start()
