"""Fast jobs run in the listener thread even where the adapter can RENEW (docs/routing.md),
and an adapter that takes acknowledgements in bulk gets a poll's ACCEPTs together.

The memory adapter renews and holds records across polls, as ``native`` does, so its group
of one worker gets a worker thread. ``WHOLE_BATCH_RECORDS`` is lowered here so that "fast"
does not depend on how loaded the machine is: jobs of a few milliseconds count as fast.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.clients.memory import MemoryClientFactory
from django_sharegroups.clients.memory.adapter import MemoryShareConsumer
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.processing import acquisition

from ..helpers import (
    accepting,
    declare,
    events_of,
    prepare,
    produce,
    running,
    settled,
    wait_for,
)

RECORDS = 400


@pytest.fixture(autouse=True)
def fast_means_milliseconds(monkeypatch):
    monkeypatch.setattr(acquisition, "WHOLE_BATCH_RECORDS", 10)


def threads_by_number(
    broker, name: str, bus: EventBus, slow: int | None = None, renew: int | None = None
) -> dict[int, str]:
    """Run ``RECORDS`` records through a one-worker group; the thread that ran each one."""
    prepare(broker, name)
    produce(broker, name, ({"n": n} for n in range(RECORDS)))
    ran: dict[int, str] = {}

    class Noting(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                number = message.payload["n"]
                ran[number] = threading.current_thread().name
                if number == slow:
                    time.sleep(0.15)
                if number == renew:
                    self.extend_lock(message)
                self.mark_accepted(message)

    with running([declare(name, Noting)], broker, bus):
        wait_for(lambda: settled(broker, name))
    assert sorted(ran) == list(range(RECORDS))  # each once
    return ran


def test_fast_jobs_run_in_the_listener_thread_once_timed(memory_broker):
    ran = threads_by_number(memory_broker, "inline-fast", EventBus())
    listener, worker = "sharegroups:inline-fast:0", "sharegroups:inline-fast:0:worker0"
    assert ran[0] == worker  # nothing timed yet: the first poll goes to the worker
    inline = [n for n, thread in ran.items() if thread == listener]
    assert len(inline) > RECORDS / 2, "once timed as fast, jobs run in the listener"
    assert set(ran.values()) == {listener, worker}


def test_a_slow_job_hands_what_follows_to_the_worker_thread(memory_broker):
    slow = RECORDS // 2
    ran = threads_by_number(memory_broker, "inline-slow", EventBus(), slow=slow)
    listener, worker = "sharegroups:inline-slow:0", "sharegroups:inline-slow:0:worker0"
    assert ran[slow] == listener
    # The rest of its poll and the next poll (the pace is now 150 ms a record) use the worker.
    assert ran[slow + 1] == worker
    assert listener in {ran[n] for n in range(slow + 2, RECORDS)}, "and inline again once fast"


def test_extend_lock_in_the_listener_thread_renews_at_once(memory_broker):
    renew = RECORDS // 2
    bus = EventBus()
    renewed = events_of(bus, "lock.renewed")
    ran = threads_by_number(memory_broker, "inline-renew", bus, renew=renew)
    assert ran[renew] == "sharegroups:inline-renew:0"
    assert [event["record"] for event in renewed] == [f"inline-renew[0]@{renew}"]


class BulkClient(MemoryShareConsumer):
    """The memory adapter, declaring bulk acknowledgements (as ``native`` does)."""

    bulk_acknowledge = True
    calls: list[int]

    def acknowledge_all(self, records, ack_type) -> None:
        self.calls.append(len(records))
        super().acknowledge_all(records, ack_type)


class BulkFactory(MemoryClientFactory):
    def __init__(self, broker, calls: list[int]) -> None:
        super().__init__(broker)
        self.calls = calls

    def create(self, group_id, *, client_id, overrides=None):
        client = BulkClient(self.broker, group_id, client_id=client_id, config=overrides)
        client.calls = self.calls
        return client


@pytest.mark.parametrize("workers_per_consumer", [1, 3])
def test_an_adapter_taking_acknowledgements_in_bulk_gets_a_polls_accepts_together(
    memory_broker, workers_per_consumer
):
    """One-record jobs, inline or on a pool: their ACCEPTs reach the client together, before
    the next poll, and every record is settled (none is left held or sent twice)."""
    name = f"bulk-{workers_per_consumer}"
    prepare(memory_broker, name)
    produce(memory_broker, name, ({"n": n} for n in range(RECORDS)))
    calls: list[int] = []
    group = declare(name, accepting(), workers_per_consumer=workers_per_consumer)
    factories = {"memory": BulkFactory(memory_broker, calls)}
    with running([group], memory_broker, factories=factories):
        wait_for(lambda: settled(memory_broker, name))
    assert sum(calls) == RECORDS
    assert max(calls) > 1, "a poll's one-record jobs were acknowledged together"


def test_acks_sent_counts_the_jobs_settled_together_once_per_topic(memory_broker):
    """One-record jobs: fewer ``acks.sent`` events than jobs, and together they count every
    acknowledgement exactly once."""
    bus = EventBus()
    sent = events_of(bus, "acks.sent")
    threads_by_number(memory_broker, "inline-sent", bus)
    assert 0 < len(sent) < RECORDS
    assert sum(event["counts"].get("ACCEPT", 0) for event in sent) == RECORDS
    assert {event["topic"] for event in sent} == {"inline-sent"}


@pytest.mark.parametrize("workers_per_consumer", [1, 3])
def test_jobs_timed_carries_each_jobs_duration_once_per_settled_batch(
    memory_broker, workers_per_consumer
):
    """Inline or on a pool: one duration per job that ran, finished or errored (the errored
    jobs' records come back and run again), in fewer events than jobs; nothing is published
    per job unless something listens to ``job.finished``."""
    name = f"timed-{workers_per_consumer}"
    prepare(memory_broker, name)
    produce(memory_broker, name, ({"n": n} for n in range(RECORDS)))
    bus = EventBus()
    timed, finished, errored = (
        events_of(bus, e) for e in ("jobs.timed", "job.finished", "job.errored")
    )
    failed_once: set[int] = set()

    class FailingOnce(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                number = message.payload["n"]
                if number % 50 == 0 and number not in failed_once:
                    failed_once.add(number)
                    raise ValueError(number)
                self.mark_accepted(message)

    group = declare(name, FailingOnce, workers_per_consumer=workers_per_consumer)
    with running([group], memory_broker, bus):
        wait_for(lambda: settled(memory_broker, name))
    durations = [seconds for event in timed for seconds in event["seconds"]]
    assert len(durations) == RECORDS + len(failed_once) == len(finished) + len(errored)
    assert 0 < len(timed) < len(durations)
    assert {(e["share_group"], e["consumer"]) for e in timed} == {(name, "FailingOnce")}
    assert sorted(durations) == sorted(e["seconds"] for e in finished + errored)


def test_one_record_jobs_run_back_to_back_fail_and_dead_letter_each_record_alone(memory_broker):
    """Inline one-record jobs share one set of acknowledgements per run: a raising job settles
    only its record, and the DLQ copy carries that record's own exception; every other record
    is processed once and ACCEPTed."""
    name = "inline-dlq"
    prepare(memory_broker, name)
    memory_broker.create_topic(f"{name}-dlq", 1)
    produce(memory_broker, name, ({"n": n} for n in range(RECORDS)))
    failing = set(range(7, RECORDS, 37))
    ran: dict[int, list[str]] = {}

    class Picky(ShareGroupConsumer):
        def consume(self, messages):
            (message,) = messages
            number = message.payload["n"]
            ran.setdefault(number, []).append(threading.current_thread().name)
            if number in failing:
                raise ValueError(f"cannot take {number}")
            self.mark_accepted(message)

    group = declare(
        name, Picky, topic_options={"dead_letter_queue": {"topic": f"{name}-dlq", "max_retries": 1}}
    )
    with running([group], memory_broker, EventBus()):
        wait_for(lambda: settled(memory_broker, name))
    assert sorted(ran) == list(range(RECORDS))
    assert all(len(threads) == 1 for threads in ran.values())  # none redelivered
    inline = [n for n, threads in ran.items() if threads == [f"sharegroups:{name}:0"]]
    assert len(inline) > RECORDS / 2
    copies = memory_broker.read_records(f"{name}-dlq", 0)
    reasons = {
        json.loads(copy.value)["n"]: dict(copy.headers)["sharegroups.dlq.error-message"]
        for copy in copies
    }
    assert reasons == {n: f"cannot take {n}".encode() for n in failing}
