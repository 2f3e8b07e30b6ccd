"""Jobs builders, per-job acknowledgements, deserialization and the job executor."""

import logging
import time

import pytest
from django.db import connections

from django_sharegroups import AcknowledgeType, ShareGroupConsumer, share_group, topic
from django_sharegroups.clients.base import ReceivedRecord
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.messages import DeserializationError, Message, json_deserializer
from django_sharegroups.processing.acknowledgements import AcknowledgementError, JobAcknowledgements
from django_sharegroups.processing.executor import execute_job
from django_sharegroups.processing.jobs_builders import BUILDERS
from django_sharegroups.routing import RouteRegistry


@pytest.fixture(autouse=True)
def _no_connection_left_open(django_db_blocker):
    """``execute_job`` runs Django's connection hygiene (``close_old_connections``) in this
    thread; a connection left open by an earlier database test would make it ask the database
    whether the connection is usable, which a test without the django_db mark may not."""
    with django_db_blocker.unblock():
        connections.close_all()


def make_message(offset, partition=0, key=b"k", value=b'{"n": 1}', topic_name="t"):
    record = ReceivedRecord(topic_name, partition, offset, key, value, delivery_count=1)
    return Message.deserialize(record, json_deserializer)


def test_json_is_the_default_deserializer():
    message = make_message(3, value=b'{"order_id": 7}')
    assert message.payload == {"order_id": 7}
    assert message.raw_payload == b'{"order_id": 7}'
    assert message.coordinates == ("t", 0, 3)


def test_undecodable_payload_raises_with_coordinates():
    record = ReceivedRecord("t", 2, 9, None, b"{not json")
    with pytest.raises(DeserializationError, match=r"t\[2\]@9"):
        Message.deserialize(record, json_deserializer)


MESSAGES = [
    make_message(offset, partition=offset % 3, key=str(offset % 2).encode()) for offset in range(20)
]


def test_per_message_gives_single_message_jobs():
    jobs = BUILDERS["per_message"](MESSAGES, 1)
    assert [len(job) for job in jobs] == [1] * 20


def test_per_batch_chunks_by_max_messages_per_job():
    jobs = BUILDERS["per_batch"](MESSAGES, 6)
    assert [len(job) for job in jobs] == [6, 6, 6, 2]
    assert [m for job in jobs for m in job] == MESSAGES


def test_per_partition_never_mixes_partitions():
    jobs = BUILDERS["per_partition"](MESSAGES, 4)
    assert all(len({m.partition for m in job}) == 1 for job in jobs)
    assert all(len(job) <= 4 for job in jobs)
    assert sorted(m.offset for job in jobs for m in job) == list(range(20))


def test_per_key_never_mixes_keys():
    jobs = BUILDERS["per_key"](MESSAGES, 100)
    assert sorted(len(job) for job in jobs) == [10, 10]
    assert all(len({m.key for m in job}) == 1 for job in jobs)


def test_custom_builders_callable_or_subclass_are_cut_to_the_job_size():
    from django_sharegroups.processing.jobs_builders import JobsBuilderBase, resolve_jobs_builder

    class EvenOdd(JobsBuilderBase):
        def build(self, messages, size):
            return [[m for m in messages if m.offset % 2 == parity] for parity in (0, 1)]

    jobs = resolve_jobs_builder(EvenOdd())(MESSAGES, 4)
    assert [len(job) for job in jobs] == [4, 4, 2, 4, 4, 2]
    assert all(len({m.offset % 2 for m in job}) == 1 for job in jobs)
    everything = resolve_jobs_builder(lambda messages, size: [list(messages)])(MESSAGES, 8)
    assert [len(job) for job in everything] == [8, 8, 4]


def test_a_record_is_acknowledged_once():
    a, b = make_message(1), make_message(2)
    acks = JobAcknowledgements([a, b])
    acks.mark(a, AcknowledgeType.ACCEPT)
    with pytest.raises(AcknowledgementError, match="already acknowledged as ACCEPT"):
        acks.mark(a, AcknowledgeType.REJECT)
    with pytest.raises(AcknowledgementError, match="not part of the job"):
        acks.mark(make_message(3), AcknowledgeType.ACCEPT)
    assert acks.unacknowledged() == [b]


class Recorder(ShareGroupConsumer):
    def consume(self, messages):
        for message in messages:
            if message.offset == 1:
                self.mark_accepted(message)
            elif message.offset == 2:
                self.mark_rejected(message)
        if any(m.offset == 99 for m in messages):
            raise RuntimeError("boom")


@pytest.fixture
def consumer():
    group = share_group("g", topics=[topic("t", consumer=Recorder)], registry=RouteRegistry())
    return Recorder(group, group.topics[0])


def test_unacknowledged_records_are_released_with_an_event(consumer):
    bus, seen = EventBus(), []
    bus.subscribe("*", lambda event, payload: seen.append(event))
    acks = execute_job(consumer, [make_message(1), make_message(2), make_message(3)], bus)
    assert {m.offset: t for m, t in acks.items()} == {
        1: AcknowledgeType.ACCEPT,
        2: AcknowledgeType.REJECT,
        3: AcknowledgeType.RELEASE,
    }
    assert seen == ["job.started", "job.unacknowledged", "job.finished"]


def test_an_exception_releases_the_rest_and_keeps_earlier_acks(consumer, caplog):
    from django_sharegroups.instrumentation.logging_listener import log_event

    bus = EventBus()
    bus.subscribe("*", log_event)
    with caplog.at_level(logging.ERROR, logger="django_sharegroups"):
        acks = execute_job(consumer, [make_message(1), make_message(99)], bus)
    assert {m.offset: t for m, t in acks.items()} == {
        1: AcknowledgeType.ACCEPT,
        99: AcknowledgeType.RELEASE,
    }
    [record] = caplog.records
    assert "consume() of t[0]@1, t[0]@99 failed; released 1" in record.getMessage()
    assert record.exc_info[0] is RuntimeError


def test_acknowledging_outside_consume_is_an_error(consumer):
    with pytest.raises(Exception, match="only be acknowledged while consume"):
        consumer.mark_accepted(make_message(1))


def test_a_failing_event_listener_does_not_break_publishing(caplog):
    bus, seen = EventBus(), []

    def broken(event, payload):
        raise ValueError("listener bug")

    bus.subscribe("acks.sent", broken)
    bus.subscribe("acks.sent", lambda event, payload: seen.append(payload))
    bus.publish("acks.sent", share_group="g", topic="t", counts={"ACCEPT": 3})
    assert seen == [{"share_group": "g", "topic": "t", "counts": {"ACCEPT": 3}}]
    assert "listener bug" in caplog.text


class PerRecord(ShareGroupConsumer):
    """Offset 1: ACCEPT; 2: REJECT; 3: left open; 99: raises; 98: raises after marking."""

    def consume(self, messages):
        (message,) = messages
        if message.offset == 98:
            self.mark_accepted(message)
            raise ValueError("marked, then raised")
        if message.offset == 99:
            raise RuntimeError(f"boom at {message.offset}")
        if message.offset == 1:
            self.mark_accepted(message)
        elif message.offset == 2:
            self.mark_rejected(message)


def per_record() -> PerRecord:
    group = share_group("g", topics=[topic("t", consumer=PerRecord)], registry=RouteRegistry())
    return PerRecord(group, group.topics[0])


def run_singly(consumer, offsets, bus, **options):
    from datetime import UTC, datetime

    from django_sharegroups.processing.executor import execute_singly

    messages = [make_message(offset, partition=offset) for offset in offsets]
    return execute_singly(consumer, messages, bus, polled_at=datetime.now(UTC), **options)


def test_one_record_jobs_run_back_to_back_settle_each_record_as_its_own_job_would():
    """Each call is a job: what it left open is RELEASEd, an exception settles its record only
    and is kept for that record; the events are one job's each."""
    bus, seen = EventBus(), []
    bus.subscribe("*", lambda event, payload: seen.append((event, payload)))
    acks = run_singly(per_record(), [1, 99, 2, 3, 98], bus)
    assert {m.offset: t for m, t in acks.items()} == {
        1: AcknowledgeType.ACCEPT,
        99: AcknowledgeType.RELEASE,
        2: AcknowledgeType.REJECT,
        3: AcknowledgeType.RELEASE,
        98: AcknowledgeType.ACCEPT,
    }
    assert acks.error is None
    record = {r.offset: r for r in acks.messages}
    assert str(acks.error_for(record[99])) == "boom at 99"
    assert str(acks.error_for(record[98])) == "marked, then raised"
    assert acks.error_for(record[2]) is None  # rejected by the consumer, no exception
    assert acks.started == 5 and len(acks.durations) == 5
    assert acks.seconds == pytest.approx(sum(acks.durations))
    events = [event for event, _ in seen]
    assert events == [
        "job.started", "job.finished",
        "job.started", "job.errored",
        "job.started", "job.finished",
        "job.started", "job.unacknowledged", "job.finished",
        "job.started", "job.errored",
    ]  # fmt: skip
    finished = [p["acknowledgements"] for e, p in seen if e == "job.finished"]
    assert finished == [{"ACCEPT": 1}, {"REJECT": 1}, {"RELEASE": 1}]  # each call's own record
    errored = [p for e, p in seen if e == "job.errored"]
    assert [(p["records"], p["released"]) for p in errored] == [("t[99]@99", 1), ("t[98]@98", 0)]


def test_implicit_one_record_jobs_accept_or_reject_each_record():
    acks = run_singly(per_record(), [3, 99, 2], EventBus(), implicit=True)
    assert {m.offset: t for m, t in acks.items()} == {
        3: AcknowledgeType.ACCEPT,
        99: AcknowledgeType.REJECT,
        2: AcknowledgeType.REJECT,
    }


def test_one_record_jobs_stop_taking_records_once_their_budget_is_spent():
    class Slow(ShareGroupConsumer):
        def consume(self, messages):
            time.sleep(0.02)
            self.mark_accepted(messages[0])

    group = share_group("g", topics=[topic("t", consumer=Slow)], registry=RouteRegistry())
    acks = run_singly(Slow(group, group.topics[0]), range(10), EventBus(), budget=0.05)
    assert 3 <= len(acks.messages) < 10  # taken: the calls until 0.05 s were spent
    assert acks.started == len(acks.messages)
    assert set(acks.marked().values()) == {AcknowledgeType.ACCEPT}


def test_one_record_jobs_whose_lock_lapsed_are_not_processed():
    import time as clock

    from django_sharegroups.processing.leases import LeaseTracker

    leases = LeaseTracker("g")
    messages = [make_message(offset, partition=offset) for offset in (1, 2)]
    now = clock.time()
    leases.acquired([messages[0].record], 60_000, now)
    leases.acquired([messages[1].record], 1, now - 1)  # lapsed a second ago
    seen: list[int] = []

    class Noting(ShareGroupConsumer):
        def consume(self, batch):
            seen.append(batch[0].offset)
            self.mark_accepted(batch[0])

    group = share_group("g", topics=[topic("t", consumer=Noting)], registry=RouteRegistry())
    from datetime import UTC, datetime

    from django_sharegroups.processing.executor import execute_singly

    acks = execute_singly(
        Noting(group, group.topics[0]),
        messages,
        EventBus(),
        leases=leases,
        polled_at=datetime.now(UTC),
        deadline=now - 1,
    )
    assert seen == [1]
    assert acks.lapsed == {messages[1].record} and acks.lapsed_before_start == 1
    assert {m.offset: t for m, t in acks.items()} == {
        1: AcknowledgeType.ACCEPT,
        2: AcknowledgeType.RELEASE,
    }
    assert acks.started == 1


def test_one_record_jobs_cut_short_by_a_thread_ending_error_keep_the_calls_before_it():
    """SystemExit in the third call: the two before it stay acknowledged for settling, the
    third record leaves the run unsettled (the broker redelivers it), the error goes on."""
    from django_sharegroups.processing.executor import RunInterrupted

    class Exits(ShareGroupConsumer):
        def consume(self, messages):
            self.mark_accepted(messages[0])
            if messages[0].offset == 3:
                raise SystemExit("the thread ends")

    group = share_group("g", topics=[topic("t", consumer=Exits)], registry=RouteRegistry())
    with pytest.raises(RunInterrupted) as interrupted:
        run_singly(Exits(group, group.topics[0]), [1, 2, 3, 4], EventBus())
    acks = interrupted.value.acknowledgements
    assert isinstance(interrupted.value.error, SystemExit)
    assert {m.offset: t for m, t in acks.items()} == {
        1: AcknowledgeType.ACCEPT,
        2: AcknowledgeType.ACCEPT,
    }
    assert [r.coordinates for r in acks.messages] == [("t", 1, 1), ("t", 2, 2)]
    assert acks.started == 2
