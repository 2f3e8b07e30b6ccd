"""The in-memory share broker and the ``memory`` client adapter.

Kafka share groups (KIP-932) with Kafka 4.4's semantics in one process: for demos without
infrastructure and for fast, deterministic tests (inject a ``ManualClock``)::

    broker = MemoryBroker(clock=ManualClock())
    broker.create_topic("jobs", partitions=3)
    broker.alter_group_config("workers", {"share.auto.offset.reset": "earliest"})
    consumer = MemoryClientFactory(broker).create("workers", client_id="w1")
    consumer.subscribe(["jobs"])
    broker.produce("jobs", b"payload", key=b"order-42")
    records = consumer.poll(max_records=10, timeout=0)

Known differences from Kafka 4.4 (Kafka's behaviour is the reference):

- The log holds one record per batch. Kafka acquires whole producer batches (so a poll may
  exceed ``max.poll.records`` unless ``share.acquire.mode=record_limit``) and throttles
  often-delivered records by halving batches; here the record limit is always strict and a
  record already delivered ``max(2, ceil(limit / 2))`` times or more is delivered alone.
- Each acknowledgement is applied on its own; Kafka applies an acknowledgement batch
  all-or-nothing.
- Assignment is balanced like Kafka's ``SimpleAssignor`` but not sticky, and takes effect at
  once (Kafka propagates it through heartbeats).
- No heartbeats: a member lives until ``close``/``unsubscribe``, or until
  ``share.session.timeout.ms`` after ``simulate_crash``.
- ``poll``'s timeout is real time, also with a ``ManualClock``; a poll returns as soon as it
  acquired anything (no share-fetch min bytes / max wait).
- No retention, log truncation, compaction or transactions (``share.isolation.level`` is
  accepted and changes nothing); the share-group DLQ of KIP-1191
  (``errors.deadletterqueue.*``) is refused with ``INVALID_CONFIG``.
- Records without a key are partitioned round-robin (Java: sticky; librdkafka: random).
- Views report the SPEO as one past the last in-flight offset (Kafka stores the last one).
- Share groups and consumer groups do not share a namespace here.
"""

from .adapter import MemoryClientFactory, MemoryShareConsumer, factory_from_settings
from .broker import MemoryBroker, default_broker, reset_default_broker
from .clock import Clock, ManualClock, SystemClock
from .errors import BrokerError, IllegalStateError
from .events import BrokerEvent, EventKind
from .share_partition import (
    ArchivedRecord,
    ArchiveReason,
    RecordState,
    RecordView,
    SharePartitionView,
)

__all__ = [
    "ArchiveReason",
    "ArchivedRecord",
    "BrokerError",
    "BrokerEvent",
    "Clock",
    "EventKind",
    "IllegalStateError",
    "ManualClock",
    "MemoryBroker",
    "MemoryClientFactory",
    "MemoryShareConsumer",
    "RecordState",
    "RecordView",
    "SharePartitionView",
    "SystemClock",
    "default_broker",
    "factory_from_settings",
    "reset_default_broker",
]
