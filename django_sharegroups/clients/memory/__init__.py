"""The in-memory share broker and the ``memory`` client adapter.

Kafka share groups (KIP-932) with Kafka 4.4's semantics in one process: for demos without
infrastructure and for fast, deterministic tests (inject a ``ManualClock``)::

    broker = MemoryBroker(clock=ManualClock())
    broker.create_topic("jobs", partitions=3)
    broker.alter_group_config("workers", {"share.auto.offset.reset": "earliest"})
    consumer = MemoryClientFactory(broker).create("workers", client_id="w1")
    consumer.subscribe(["jobs"])
"""

from .adapter import MemoryClientFactory, MemoryShareConsumer
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
    "reset_default_broker",
]
