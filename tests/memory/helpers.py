"""Small helpers shared by the in-memory broker tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django_sharegroups.clients.base import AcknowledgeType, ReceivedRecord
from django_sharegroups.clients.memory import MemoryBroker, MemoryShareConsumer

#: ``member(group=GROUP, topics=(TOPIC,), client_id=None)``: the conftest's ``member`` fixture.
MakeMember = Callable[..., MemoryShareConsumer]

GROUP = "workers"
TOPIC = "jobs"

ACCEPT = AcknowledgeType.ACCEPT
RELEASE = AcknowledgeType.RELEASE
REJECT = AcknowledgeType.REJECT
RENEW = AcknowledgeType.RENEW


def earliest(
    manual_broker: MemoryBroker, group: str = GROUP, extra: Mapping[str, Any] | None = None
) -> None:
    """Let ``group`` start at the earliest offset, plus any ``extra`` group configs."""
    manual_broker.alter_group_config(
        group, {"share.auto.offset.reset": "earliest", **(extra or {})}
    )


def offsets(records: Sequence[ReceivedRecord]) -> list[int]:
    return [record.offset for record in records]


def ack_all(
    consumer: MemoryShareConsumer, records: Sequence[ReceivedRecord], ack_type: AcknowledgeType
) -> None:
    for record in records:
        consumer.acknowledge(record, ack_type)
