"""Forced redeliveries on the in-memory broker: idempotent jobs have their DB effects once.

Two ways a processed record comes back: its acquisition lock runs out while the job still works
(another worker gets it), or the process dies after the commit and before its
acknowledgements reach the broker. Each test runs a non-idempotent control too, which must show
the duplicates the idempotent run avoids.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from django_sharegroups.clients.base import AcknowledgeType
from django_sharegroups.clients.memory import (
    MemoryBroker,
    MemoryClientFactory,
    MemoryShareConsumer,
)
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.models import ProcessedRecord

from ..helpers import declare, events_of, prepare, produce, running, settled, wait_until
from .helpers import EffectConsumer, duplicates, numbered, write_effect
from .models import Effect

pytestmark = pytest.mark.django_db(transaction=True)

LOCK_MS = 1000


def short_locks(broker: MemoryBroker, name: str, records: int) -> None:
    prepare(
        broker,
        name,
        **{"share.record.lock.duration.ms": LOCK_MS, "share.delivery.count.limit": 10},
    )
    produce(broker, name, numbered(records))


class SlowFirstDelivery(EffectConsumer):
    """The first delivery of each record outlives its lock, then writes its effect; the
    redelivery (another worker) writes at once."""

    def consume(self, messages):
        for message in messages:
            if message.delivery_count == 1:
                time.sleep(LOCK_MS / 1000 * 1.4)
            write_effect(self.share_group.name, message)
            self.mark_accepted(message)


@pytest.mark.parametrize("idempotent", [True, False])
def test_lock_expiry_redelivery_has_no_duplicate_effects(broker, idempotent):
    name = f"lapse-{idempotent}".lower()
    short_locks(broker, name, 2)
    group = declare(
        name,
        SlowFirstDelivery,
        topic_options={"idempotent": idempotent, "auto_renew": False},
        workers_per_consumer=4,
    )
    with running([group], broker):  # shutting down waits for the lapsed jobs to end
        assert wait_until(lambda: settled(broker, name), 20)
    if idempotent:
        assert duplicates(name) == {}
        assert Effect.objects.filter(share_group=name).count() == 2
        if connection.vendor == "postgresql":
            # The first deliveries claimed their records when they started. A redelivery's
            # claim waits on the uncommitted row, finds it committed and ACCEPTs without
            # consume: the effects are the first deliveries', although their own ACCEPTs came
            # too late for the broker.
            assert not Effect.objects.filter(share_group=name, delivery_count__gte=2).exists()
        # On SQLite (BEGIN IMMEDIATE) whichever job's transaction starts first holds the
        # database and wins; either way each record has one effect, recorded once.
        assert ProcessedRecord.objects.filter(share_group=name).count() == 2
    else:
        assert duplicates(name) == {(0, 0): 2, (0, 1): 2}


class AcksLost(MemoryShareConsumer):
    """Commits happen, acknowledgements never leave the process, then it dies."""

    def acknowledge(self, record, ack_type: AcknowledgeType) -> None:
        self._check_open()

    def close(self) -> None:
        self.simulate_crash()


class AcksLostFactory(MemoryClientFactory):
    def create(self, group_id, *, client_id, overrides=None):
        return AcksLost(self.broker, group_id, client_id=client_id, config=overrides)


@pytest.mark.parametrize("idempotent", [True, False])
def test_crash_between_commit_and_acknowledgement_has_no_duplicate_effects(broker, idempotent):
    name = f"crash-{idempotent}".lower()
    records = 20
    short_locks(broker, name, records)
    calls = {"first": 0, "second": 0}
    phase = {"now": "first"}
    lock = threading.Lock()

    class Counting(EffectConsumer):
        def consume(self, messages):
            with lock:
                calls[phase["now"]] += len(messages)
            super().consume(messages)

    group = declare(
        name,
        Counting,
        topic_options={"idempotent": idempotent},
        workers_per_consumer=2,
    )
    first_effects = lambda: Effect.objects.filter(share_group=name).count()  # noqa: E731
    with running([group], broker, factories={"memory": AcksLostFactory(broker)}):
        assert wait_until(lambda: first_effects() >= records, 60)
    assert not settled(broker, name), "the acknowledgements were supposed to be lost"

    phase["now"] = "second"
    bus = EventBus()
    sent = events_of(bus, "acks.sent")
    with running([group], broker, bus=bus):
        assert wait_until(lambda: settled(broker, name), 20)
    accepted = sum(payload["counts"].get("ACCEPT", 0) for payload in sent)
    assert accepted >= records  # every record came back and was ACCEPTed this time
    if idempotent:
        assert calls["second"] == 0, "consume ran again for records already processed"
        assert duplicates(name) == {}
        assert Effect.objects.filter(share_group=name).count() == records
    else:
        assert calls["second"] >= records
        assert len(duplicates(name)) == records


class RecordingClient(MemoryShareConsumer):
    log: list
    lock = threading.Lock()

    def acknowledge(self, record, ack_type: AcknowledgeType) -> None:
        with self.lock:
            self.log.append(("ack", record.offset, ack_type.name))
        super().acknowledge(record, ack_type)


def test_accepts_reach_the_client_only_after_the_commit(broker):
    name = "commit-order"
    prepare(broker, name)
    produce(broker, name, numbered(30))
    log: list = []
    client_class = type("Client", (RecordingClient,), {"log": log})

    class Factory(MemoryClientFactory):
        def create(self, group_id, *, client_id, overrides=None):
            return client_class(self.broker, group_id, client_id=client_id, config=overrides)

    class Atomic(EffectConsumer):
        atomic = True

        def consume(self, messages):
            super().consume(messages)
            for message in messages:
                transaction.on_commit(
                    lambda offset=message.offset: log.append(("commit", offset, None))
                )

    group = declare(name, Atomic, workers_per_consumer=3, concurrency=2)
    with running([group], broker, factories={"memory": Factory(broker)}):
        assert wait_until(lambda: settled(broker, name), 60)
    committed: set[int] = set()
    accepted = 0
    for kind, offset, ack_type in log:
        if kind == "commit":
            committed.add(offset)
        elif ack_type == "ACCEPT":
            assert offset in committed, f"offset {offset} was ACCEPTed before its commit"
            accepted += 1
    assert accepted == 30
    assert Effect.objects.filter(share_group=name).count() == 30
