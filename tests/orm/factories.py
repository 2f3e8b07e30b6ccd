"""factory-boy factories for the models of django-sharegroups."""

from __future__ import annotations

import os
from datetime import timedelta

import factory
from django.utils import timezone

from django_sharegroups.models import (
    ArchivedRecord,
    ConsumerProcess,
    DeadLetter,
    Lease,
    ProcessedRecord,
)


class RecordOriginFactory(factory.django.DjangoModelFactory):
    share_group = "orders"
    topic = "orders"
    partition = 0
    offset = factory.Sequence(lambda n: n)


class ConsumerProcessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsumerProcess

    host = factory.Sequence(lambda n: f"host-{n}")
    pid = factory.LazyFunction(os.getpid)
    share_groups = factory.LazyFunction(lambda: ["orders"])
    threads = 2
    started_at = factory.LazyFunction(timezone.now)
    last_heartbeat = factory.LazyFunction(timezone.now)
    status = ConsumerProcess.Status.RUNNING

    class Params:
        #: A process that died: its last heartbeat is an hour old.
        stale = factory.Trait(
            last_heartbeat=factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
        )


class LeaseFactory(RecordOriginFactory):
    class Meta:
        model = Lease

    delivery_count = 1
    acquired_at = factory.LazyFunction(timezone.now)
    lock_deadline = factory.LazyAttribute(lambda o: o.acquired_at + timedelta(seconds=30))
    consumer_thread = "sharegroups:orders:0"
    process = factory.SubFactory(ConsumerProcessFactory)


class DeadLetterFactory(RecordOriginFactory):
    class Meta:
        model = DeadLetter

    key = b"key-1"
    headers = factory.LazyFunction(lambda: [["trace-id", "YWJj"], ["empty", None]])
    payload = b'{"order_id": 1}'
    payload_size = factory.LazyAttribute(lambda o: len(o.payload or b""))
    delivery_count = 3
    error_class = "ValueError"
    error_message = "bad order"
    dlq_topic = "orders-dlq"
    dlq_partition = 0
    dlq_offset = factory.Sequence(lambda n: n)
    dead_lettered_at = factory.LazyFunction(timezone.now)


class ArchivedRecordFactory(RecordOriginFactory):
    class Meta:
        model = ArchivedRecord

    delivery_count = 5
    reason = ArchivedRecord.Reason.DELIVERY_LIMIT
    error = ""
    archived_at = factory.LazyFunction(timezone.now)


class ProcessedRecordFactory(RecordOriginFactory):
    class Meta:
        model = ProcessedRecord

    processed_at = factory.LazyFunction(timezone.now)
