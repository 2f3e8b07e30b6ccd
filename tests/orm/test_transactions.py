"""Atomic and idempotent jobs, one job at a time (``execute_job``), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from django.core import checks
from django.db import connection, connections, transaction
from django.utils import timezone

from django_sharegroups import AcknowledgeType, ShareGroupConsumer
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.models import ProcessedRecord
from django_sharegroups.processing.executor import execute_job
from django_sharegroups.processing.transactions import transaction_mode
from django_sharegroups.routing import RouteRegistry, share_group, topic
from django_sharegroups.routing.checks import check_routes

from ..helpers import declare
from .helpers import EffectConsumer, messages, write_effect
from .models import Effect

pytestmark = pytest.mark.django_db(transaction=True)

ACCEPT, RELEASE, REJECT = AcknowledgeType.ACCEPT, AcknowledgeType.RELEASE, AcknowledgeType.REJECT


def run(consumer_class, offsets, *, topic_options=None, delivery_count=1, implicit=False):
    group = declare("orders", consumer_class, topic_options=topic_options)
    route = group.topics[0]
    consumer = consumer_class(group, route)
    batch = messages(route, offsets, delivery_count=delivery_count)
    acknowledgements = execute_job(consumer, batch, EventBus(), implicit=implicit)
    return {m.offset: ack for m, ack in acknowledgements.items()}, acknowledgements


def recording_idempotent() -> tuple[type[EffectConsumer], list[list[int]]]:
    """An idempotent EffectConsumer, and the offsets of each ``consume`` call it gets."""
    calls: list[list[int]] = []

    class Idempotent(EffectConsumer):
        idempotent = True

        def consume(self, messages):
            calls.append([m.offset for m in messages])
            super().consume(messages)

    return Idempotent, calls


class AcceptsOneRejectsOneThenFails(ShareGroupConsumer):
    def consume(self, messages):
        first, second = messages
        write_effect(self.share_group.name, first)
        self.mark_accepted(first)
        self.mark_rejected(second)
        raise RuntimeError("boom after the write")


@pytest.mark.parametrize("atomic", [True, False])
def test_rollback_turns_accepts_into_releases_and_keeps_rejects(atomic):
    acks, acknowledgements = run(
        AcceptsOneRejectsOneThenFails, [0, 1], topic_options={"atomic": atomic}
    )
    if atomic:
        assert acks == {0: RELEASE, 1: REJECT}
        assert Effect.objects.count() == 0
    else:  # the control: without a transaction the write and the ACCEPT stay
        assert acks == {0: ACCEPT, 1: REJECT}
        assert Effect.objects.count() == 1
    assert isinstance(acknowledgements.error, RuntimeError)


def test_atomic_and_idempotent_come_from_the_class_unless_the_topic_says_otherwise():
    class Atomic(EffectConsumer):
        atomic = True

    class Idempotent(EffectConsumer):
        idempotent = True

    def mode(consumer_class, **options):
        group = declare("orders", consumer_class, topic_options=options)
        return transaction_mode(consumer_class(group, group.topics[0]))

    assert mode(EffectConsumer) == (False, False)
    assert mode(Atomic) == (True, False)
    assert mode(Atomic, atomic=False) == (False, False)
    assert mode(Idempotent) == (True, True)  # idempotent implies atomic
    assert mode(EffectConsumer, idempotent=True) == (True, True)
    assert mode(Idempotent, idempotent=False) == (False, False)


def test_the_commit_happens_before_execute_job_returns_the_accepts():
    order: list[str] = []

    class Committing(EffectConsumer):
        atomic = True

        def consume(self, messages):
            super().consume(messages)
            transaction.on_commit(lambda: order.append("commit"))
            order.append("consumed")

    acks, _ = run(Committing, [0])
    order.append("returned")
    assert acks == {0: ACCEPT}
    assert order == ["consumed", "commit", "returned"]


def test_idempotent_job_writes_a_processed_row_for_accepted_records_only():
    class Mixed(ShareGroupConsumer):
        idempotent = True

        def consume(self, messages):
            accepted, released, rejected = messages
            write_effect(self.share_group.name, accepted)
            self.mark_accepted(accepted)
            self.mark_released(released)
            self.mark_rejected(rejected)

    acks, _ = run(Mixed, [0, 1, 2])
    assert acks == {0: ACCEPT, 1: RELEASE, 2: REJECT}
    assert list(ProcessedRecord.objects.values_list("share_group", "topic", "offset")) == [
        ("orders", "orders", 0)
    ]


def test_a_redelivered_processed_record_is_accepted_without_consume():
    Idempotent, calls = recording_idempotent()
    run(Idempotent, [0, 1])
    acks, _ = run(Idempotent, [0, 1, 2], delivery_count=2)  # 0 and 1 come back, 2 is new
    assert acks == {0: ACCEPT, 1: ACCEPT, 2: ACCEPT}
    assert calls == [[0, 1], [2]]
    assert Effect.objects.count() == 3
    acks, _ = run(Idempotent, [0, 1, 2], delivery_count=3)
    assert calls == [[0, 1], [2]]  # consume was not called at all
    assert acks == {0: ACCEPT, 1: ACCEPT, 2: ACCEPT}


def test_a_record_processed_meanwhile_is_accepted_without_consume():
    """The row of a delivery that committed after this job's records were polled: the claim
    finds it, and the record is ACCEPTed as done instead of being processed again."""
    Idempotent, calls = recording_idempotent()
    ProcessedRecord.objects.create(
        share_group="orders", topic="orders", partition=0, offset=0, processed_at=timezone.now()
    )
    acks, _ = run(Idempotent, [0, 1])  # first deliveries, as after resetting the SPSO
    assert acks == {0: ACCEPT, 1: ACCEPT}
    assert calls == [[1]]
    assert list(Effect.objects.values_list("offset", flat=True)) == [1]


def test_a_large_job_is_claimed_in_statements_the_database_accepts():
    """450 records: over SQLite's 999 parameters at five per row, so claimed in chunks there."""
    Idempotent, calls = recording_idempotent()
    acks, _ = run(Idempotent, range(450))
    assert set(acks.values()) == {ACCEPT} and len(acks) == 450
    acks, _ = run(Idempotent, range(440, 460), delivery_count=2)  # 10 done, 10 new
    assert set(acks.values()) == {ACCEPT} and len(acks) == 20
    assert [len(offsets) for offsets in calls] == [450, 10]
    assert ProcessedRecord.objects.count() == Effect.objects.count() == 460


def test_a_failed_job_keeps_no_claim_and_its_records_are_processed_next_time():
    attempts: list[int] = []

    class FailsOnce(EffectConsumer):
        idempotent = True

        def consume(self, messages):
            attempts.append(len(messages))
            super().consume(messages)
            if len(attempts) == 1:
                raise RuntimeError("boom after the writes")

    acks, _ = run(FailsOnce, [0, 1])
    assert acks == {0: RELEASE, 1: RELEASE}
    assert ProcessedRecord.objects.count() == 0 and Effect.objects.count() == 0
    acks, _ = run(FailsOnce, [0, 1], delivery_count=2)
    assert acks == {0: ACCEPT, 1: ACCEPT}
    assert attempts == [2, 2]
    assert Effect.objects.count() == 2


@pytest.mark.postgres  # SQLite (IMMEDIATE transactions) lets no second writer start a job
def test_a_second_delivery_waits_for_the_first_and_skips_what_it_committed():
    """Two deliveries of the same records at once (a lock lapsed mid-job): the second job's
    claim waits on the first job's uncommitted rows, then finds them committed and ACCEPTs
    those records without consume; the record only it has is processed. One effect each."""
    first_claimed, release_first = threading.Event(), threading.Event()
    calls: list[tuple[str, list[int]]] = []

    class Slow(EffectConsumer):
        idempotent = True

        def consume(self, messages):
            calls.append((threading.current_thread().name, [m.offset for m in messages]))
            super().consume(messages)
            if threading.current_thread().name == "first":
                first_claimed.set()
                assert release_first.wait(10)

    results: dict[str, dict] = {}

    def job(name: str, offsets: list[int]) -> None:
        try:
            results[name] = run(Slow, offsets)[0]
        finally:
            connection.close()

    first = threading.Thread(target=job, args=("first", [0, 1]), name="first")
    first.start()
    assert first_claimed.wait(10)
    second = threading.Thread(target=job, args=("second", [0, 1, 2]), name="second")
    second.start()
    second.join(1.0)
    assert second.is_alive(), "the second claim did not wait for the first job's rows"
    release_first.set()
    first.join(10)
    second.join(10)
    assert results == {"first": {0: ACCEPT, 1: ACCEPT}, "second": {0: ACCEPT, 1: ACCEPT, 2: ACCEPT}}
    assert calls == [("first", [0, 1]), ("second", [2])]
    assert sorted(Effect.objects.values_list("offset", flat=True)) == [0, 1, 2]


def test_idempotent_routes_need_a_database_that_can_claim_rows(monkeypatch):
    class Idempotent(EffectConsumer):
        idempotent = True

    routes = RouteRegistry()
    share_group("claims", topics=[topic("claims", consumer=Idempotent)], registry=routes)
    assert [e.id for e in check_routes(routes=routes)] == []
    monkeypatch.setattr(type(connections["default"]), "vendor", "mysql")
    errors = check_routes(routes=routes)
    assert [e.id for e in errors] == ["sharegroups.E010"]
    assert "(mysql)" in errors[0].msg


def test_implicit_idempotent_job_records_what_it_accepts_on_return():
    class Implicit(EffectConsumer):
        idempotent = True
        acknowledgement = "implicit"

        def consume(self, messages):
            for message in messages:
                write_effect(self.share_group.name, message)

    acks, _ = run(Implicit, [0, 1], implicit=True)
    assert acks == {0: ACCEPT, 1: ACCEPT}
    assert ProcessedRecord.objects.count() == 2


def test_implicit_atomic_job_that_raises_rejects_the_rest_and_writes_nothing():
    class Failing(ShareGroupConsumer):
        atomic = True
        acknowledgement = "implicit"

        def consume(self, messages):
            write_effect(self.share_group.name, messages[0])
            self.mark_accepted(messages[0])
            raise ValueError("poison")

    acks, _ = run(Failing, [0, 1], implicit=True)
    assert acks == {0: RELEASE, 1: REJECT}
    assert Effect.objects.count() == 0


def test_checks_reject_non_boolean_atomic_and_idempotent():
    routes = RouteRegistry()
    share_group(
        "orders",
        topics=[topic("orders", consumer=EffectConsumer, atomic="yes", idempotent=1)],
        registry=routes,
    )
    errors = [e for e in check_routes(routes=routes) if isinstance(e, checks.Error)]
    messages_ = sorted(e.msg for e in errors if e.id == "sharegroups.E006")
    assert len(messages_) == 2
    assert "atomic='yes' is invalid" in messages_[0]
    assert "idempotent=1 is invalid" in messages_[1]
