"""Acknowledgement behaviour on the in-memory broker: modes, filters, bad payloads, leases."""

from __future__ import annotations

import json
import threading
import time

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.clients.memory import ArchiveReason, RecordState
from django_sharegroups.instrumentation import EventBus

from ..helpers import (
    Recording,
    declare,
    events_of,
    prepare,
    produce,
    recording_consumer,
    running,
    settled,
    wait_until,
)


def test_implicit_mode_accepts_on_return_and_rejects_on_exception(broker):
    prepare(broker, "implicit")
    produce(broker, "implicit", [{"ok": True}, {"ok": False}, {"ok": True}])

    class Implicit(ShareGroupConsumer):
        acknowledgement = "implicit"

        def consume(self, messages):
            if not messages[0].payload["ok"]:
                raise ValueError("bad record")

    with running([declare("implicit", Implicit)], broker):
        assert wait_until(lambda: settled(broker, "implicit"), timeout=60)
    archived = broker.archived_records("implicit")
    assert [(r.offset, r.reason) for r in archived] == [(1, ArchiveReason.REJECTED)]
    assert broker.record_state("implicit", "implicit", 0, 0).state == RecordState.ACKNOWLEDGED


def test_topic_option_overrides_the_class_acknowledgement_mode(broker):
    prepare(broker, "explicit-topic")
    produce(broker, "explicit-topic", [{}])
    bus = EventBus()
    unacknowledged = events_of(bus, "job.unacknowledged")

    class Implicit(ShareGroupConsumer):
        acknowledgement = "implicit"

        def consume(self, messages):
            pass

    group = declare("explicit-topic", Implicit, topic_options={"acknowledgement": "explicit"})
    with running([group], broker, bus=bus):
        assert wait_until(lambda: unacknowledged, timeout=60)
    assert "explicit-topic[0]@0" in unacknowledged[0]["records"]


def test_filtered_records_are_accepted_counted_and_never_consumed(broker):
    prepare(broker, "filtered")
    produce(broker, "filtered", ({"n": n} for n in range(10)))
    bus = EventBus()
    filtered = events_of(bus, "records.filtered")
    seen = recording_consumer()
    group = declare("filtered", seen, topic_options={"filter": lambda m: m.payload["n"] % 2 == 0})
    with running([group], broker, bus=bus):
        assert wait_until(lambda: settled(broker, "filtered"), timeout=60)
    assert sorted(m.payload["n"] for m in seen.seen) == [0, 2, 4, 6, 8]
    assert sum(e["count"] for e in filtered) == 5
    assert broker.archived_records("filtered") == []


def test_undeserializable_records_are_rejected_by_default_or_released(broker):
    for name in ("bad-reject", "bad-release"):
        prepare(broker, name, **{"share.delivery.count.limit": 2})
        broker.produce(name, b"{not json")
        broker.produce(name, json.dumps({"fine": 1}).encode(), key=b'"k"', headers=[("h", b"1")])
    bus = EventBus()
    reported = events_of(bus, "record.undeserializable")
    rejecting, releasing = recording_consumer(), recording_consumer()
    groups = [
        declare(
            "bad-reject",
            rejecting,
            topic_options={"key_deserializer": "json", "headers_deserializer": "json"},
        ),
        declare("bad-release", releasing, topic_options={"on_deserialization_error": "release"}),
    ]
    with running(groups, broker, bus=bus) as runner:
        assert wait_until(
            lambda: settled(broker, "bad-reject") and settled(broker, "bad-release"), timeout=10
        )
        assert all(listener.is_alive() for listener in runner.listeners)
    [good] = rejecting.seen
    assert (good.payload, good.key, good.headers) == ({"fine": 1}, "k", {"h": 1})
    assert good.raw_key == b'"k"'
    assert [r.reason for r in broker.archived_records("bad-reject")] == [ArchiveReason.REJECTED]
    # released until the delivery limit (2), then archived by the broker
    assert [(r.offset, r.reason) for r in broker.archived_records("bad-release")] == [
        (0, ArchiveReason.DELIVERY_COUNT_EXCEEDED)
    ]
    actions = sorted((e["record"], e["action"]) for e in reported)
    assert actions == [
        ("bad-reject[0]@0", "REJECT"),
        ("bad-release[0]@0", "RELEASE"),
        ("bad-release[0]@0", "RELEASE"),
    ]
    assert "JSONDecodeError" in reported[0]["error"]


def test_a_job_that_outlives_its_lock_calls_lock_expired_and_the_record_comes_back(broker):
    prepare(broker, "lapsed", **{"share.record.lock.duration.ms": 1000})
    produce(broker, "lapsed", ({"n": n} for n in range(3)))
    bus = EventBus()
    expired_events = events_of(bus, "lock.expired")
    failures = events_of(bus, "acks.failed")
    processed, hooked = [], []

    class SlowFirst(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                processed.append((message.payload["n"], message.delivery_count))
                if message.payload["n"] == 0 and message.delivery_count == 1:
                    time.sleep(1.3)  # outlives the 1 s lock
                self.mark_accepted(message)

        def lock_expired(self, message):
            hooked.append((message.payload["n"], message.delivery_count))

    group = declare("lapsed", SlowFirst, topic_options={"auto_renew": False})
    with running([group], broker, bus=bus):
        assert wait_until(lambda: settled(broker, "lapsed"), timeout=60)
    assert hooked == [(0, 1)]
    assert processed == [(0, 1), (0, 2), (1, 1), (2, 1)]
    assert [(e["record"], e["processed"]) for e in expired_events] == [("lapsed[0]@0", True)]
    # the late ACCEPT of the first delivery was refused by the broker, with Kafka's error name
    assert [f.error for e in failures for f in e["failures"]] == ["INVALID_RECORD_STATE"]


def test_each_delivery_is_decoded_once_and_an_undecodable_one_never_reaches_consume(broker):
    prepare(broker, "decoded-once")
    broker.produce("decoded-once", b'{"n": 0}')
    broker.produce("decoded-once", b"\xff not json")
    broker.produce("decoded-once", b'{"n": 2}')
    decoded, reads, lock = [], [], threading.Lock()

    def counting(raw):
        with lock:
            decoded.append(raw)
        return json.loads(raw)

    class ReadsTwice(Recording):
        seen: list = []

        def consume(self, messages):
            for message in messages:
                reads.append((message.payload, message.payload))  # the second read is free
            super().consume(messages)

    bus = EventBus()
    reported = events_of(bus, "record.undeserializable")
    group = declare(
        "decoded-once",
        ReadsTwice,
        topic_options={"deserializer": counting, "jobs_builder": "per_batch"},
    )
    group.topics[0].max_messages_per_job = 10
    with running([group], broker, bus=bus):
        assert wait_until(lambda: settled(broker, "decoded-once"), timeout=60)
    assert sorted(m.payload["n"] for m in ReadsTwice.seen) == [0, 2]
    assert sorted(first["n"] for first, second in reads if first == second) == [0, 2]
    assert sorted(decoded) == sorted([b'{"n": 0}', b"\xff not json", b'{"n": 2}'])
    assert [(e["record"], e["action"]) for e in reported] == [("decoded-once[0]@1", "REJECT")]
    assert [(r.offset, r.reason) for r in broker.archived_records("decoded-once")] == [
        (1, ArchiveReason.REJECTED)
    ]
