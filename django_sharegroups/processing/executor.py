"""Runs one job: the consumer's ``consume`` with Django's per-request connection hygiene.

The outcome is a complete set of acknowledgements for the job's records: whatever the consumer
left open is RELEASEd, so the owning thread can hand every record back to the client before it
polls again (librdkafka's explicit mode requires exactly that).
"""

from __future__ import annotations

from django.db import close_old_connections

from ..clients.base import AcknowledgeType
from ..consumer import ShareGroupConsumer
from ..instrumentation import EventBus
from ..messages import Message, Messages
from .acknowledgements import JobAcknowledgements


def describe(messages: list[Message]) -> str:
    """A short, readable list of record coordinates for logs."""
    shown = ", ".join(f"{m.topic}[{m.partition}]@{m.offset}" for m in messages[:5])
    return shown + (f" (+{len(messages) - 5} more)" if len(messages) > 5 else "")


def execute_job(
    consumer: ShareGroupConsumer, messages: list[Message], bus: EventBus
) -> JobAcknowledgements:
    acknowledgements = JobAcknowledgements(messages)
    name = type(consumer).__name__
    group = consumer.share_group.name
    consumer._acknowledgements = acknowledgements
    close_old_connections()
    bus.publish("job.started", share_group=group, consumer=name, size=len(messages))
    try:
        consumer.consume(Messages(messages, topic=consumer.topic.name))
    except Exception as exc:
        released = acknowledgements.mark_all_unacknowledged(AcknowledgeType.RELEASE)
        bus.publish(
            "job.errored",
            share_group=group,
            consumer=name,
            records=describe(messages),
            released=len(released),
            exception=exc,
        )
    else:
        left = acknowledgements.mark_all_unacknowledged(AcknowledgeType.RELEASE)
        if left:
            bus.publish(
                "job.unacknowledged", share_group=group, consumer=name, records=describe(left)
            )
        bus.publish(
            "job.finished",
            share_group=group,
            consumer=name,
            size=len(messages),
            acknowledgements=acknowledgements.counts(),
        )
    finally:
        consumer._acknowledgements = None
        close_old_connections()
    return acknowledgements
