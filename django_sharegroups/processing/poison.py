"""The poison-record observer: tells when the broker archives a record because of us.

A REJECT archives at once; a RELEASE (or a lapsed lock) of a record at the group's delivery
limit archives it too. The broker does not tell clients, so the engine publishes
``record.archived`` with the reason and the error it knows (the model mirroring writes
``ArchivedRecord`` rows from it).
"""

from __future__ import annotations

from ..clients.base import AcknowledgeType, ReceivedRecord
from ..instrumentation import EventBus


class PoisonObserver:
    __slots__ = ("share_group", "delivery_count_limit", "bus")

    def __init__(self, share_group: str, delivery_count_limit: int, bus: EventBus) -> None:
        self.share_group = share_group
        self.delivery_count_limit = delivery_count_limit
        self.bus = bus

    def acknowledged(
        self, record: ReceivedRecord, ack_type: AcknowledgeType, error: BaseException | str | None
    ) -> None:
        if ack_type is AcknowledgeType.REJECT:
            self.archived(record, "rejected", error)
        elif (
            ack_type is AcknowledgeType.RELEASE
            and record.delivery_count >= self.delivery_count_limit
        ):
            self.archived(record, "delivery_limit", error)

    def lapsed(self, record: ReceivedRecord) -> None:
        if record.delivery_count >= self.delivery_count_limit:
            self.archived(record, "lock_expiry_at_limit", None)

    def archived(
        self, record: ReceivedRecord, reason: str, error: BaseException | str | None
    ) -> None:
        if not self.bus.wants("record.archived"):
            return
        self.bus.publish(
            "record.archived",
            share_group=self.share_group,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            delivery_count=record.delivery_count,
            reason=reason,
            error=describe_error(error),
        )


def describe_error(error: BaseException | str | None) -> str | None:
    if error is None or isinstance(error, str):
        return error
    return f"{type(error).__name__}: {error}"
