"""Runs one job: the consumer's ``consume`` with Django's per-request connection hygiene.

The outcome is a complete set of acknowledgements for the job's records: whatever the consumer
left open is RELEASEd (explicit mode) or ACCEPTed/REJECTed (implicit mode), so the owning thread
can hand every record back to the client before it polls again. Records whose lease lapsed
before the job started are not processed at all: the broker may have given them to another
member already. Those checks are per record only once the poll's lock deadline has passed
(``deadline``): before it, no lock of the job can have run out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from ..clients.base import AcknowledgeType
from ..consumer import ShareGroupConsumer
from ..instrumentation import EventBus
from ..messages import Message, Messages
from . import connections
from .acknowledgements import JobAcknowledgements
from .leases import LeaseTracker
from .transactions import run_consume

if TYPE_CHECKING:  # OpenTelemetry is imported only where tracing is on
    from ..instrumentation.tracing import JobTracer


def describe(messages: list[Message]) -> str:
    """A short, readable list of record coordinates for logs."""
    shown = ", ".join(f"{m.topic}[{m.partition}]@{m.offset}" for m in messages[:5])
    return shown + (f" (+{len(messages) - 5} more)" if len(messages) > 5 else "")


def execute_job(
    consumer: ShareGroupConsumer,
    messages: list[Message],
    bus: EventBus,
    *,
    implicit: bool = False,
    leases: LeaseTracker | None = None,
    polled_at: datetime | None = None,
    partition_scoped: bool = False,
    on_renew: Callable[[Message], None] | None = None,
    adapter: str | None = None,
    deadline: float | None = None,
    tracer: JobTracer | None = None,
) -> JobAcknowledgements:
    acknowledgements = JobAcknowledgements(messages)
    acknowledgements.on_renew = on_renew
    acknowledgements.adapter = adapter
    live = messages
    if leases is not None and (deadline is None or time.time() >= deadline):
        live = _start_live(consumer, messages, bus, leases, acknowledgements)
        if not live:
            return acknowledgements
    consumer._acknowledgements = acknowledgements
    started = time.perf_counter()
    connections.before_job()
    if bus.wants("job.started"):
        bus.publish(
            "job.started",
            share_group=consumer.share_group.name,
            consumer=type(consumer).__name__,
            size=len(live),
        )
    span = tracer.start(consumer.share_group.name, consumer.topic.name, live) if tracer else None
    try:
        batch = Messages.of_job(
            live, consumer.topic.name, polled_at or datetime.now().astimezone(), partition_scoped
        )
        run_consume(consumer, batch, acknowledgements, implicit=implicit)  # atomic/idempotent
    except Exception as exc:
        acknowledgements.error = exc
        if span is not None:
            span.failed(exc)
        ack_type = AcknowledgeType.REJECT if implicit else AcknowledgeType.RELEASE
        settled = acknowledgements.mark_all_unacknowledged(ack_type)
        acknowledgements.seconds = time.perf_counter() - started
        bus.publish(
            "job.errored",
            share_group=consumer.share_group.name,
            consumer=type(consumer).__name__,
            records=describe(live),
            released=len(settled) if not implicit else 0,
            rejected=len(settled) if implicit else 0,
            exception=exc,
            seconds=acknowledgements.seconds,
        )
    else:
        if implicit:
            acknowledgements.mark_all_unacknowledged(AcknowledgeType.ACCEPT)
        elif not acknowledgements.complete():
            left = acknowledgements.mark_all_unacknowledged(AcknowledgeType.RELEASE)
            bus.publish(
                "job.unacknowledged",
                share_group=consumer.share_group.name,
                consumer=type(consumer).__name__,
                records=describe(left),
            )
        acknowledgements.seconds = time.perf_counter() - started
        if bus.wants("job.finished"):
            bus.publish(
                "job.finished",
                share_group=consumer.share_group.name,
                consumer=type(consumer).__name__,
                size=len(live),
                acknowledgements=acknowledgements.counts(),
                seconds=acknowledgements.seconds,
            )
    finally:
        if span is not None:
            acknowledgements.trace_headers = span.end()
        consumer._acknowledgements = None
        connections.after_job()
        acknowledgements.started = len(live)
        if not acknowledgements.seconds:  # consume raised past Exception (e.g. SystemExit)
            acknowledgements.seconds = time.perf_counter() - started
    if leases is not None and (deadline is None or time.time() >= deadline):
        marked_at = acknowledgements.marked_at
        for message in live:
            key = message.coordinates
            if leases.lapsed(key, marked_at.get(key)):
                acknowledgements.lapse(key)
                _lock_expired(consumer, message, bus, started=True)
    return acknowledgements


def _start_live(
    consumer: ShareGroupConsumer,
    messages: list[Message],
    bus: EventBus,
    leases: LeaseTracker,
    acknowledgements: JobAcknowledgements,
) -> list[Message]:
    """The messages whose leases still hold; the others are RELEASEd unprocessed (the broker
    may have given them to another member already)."""
    now = time.time()
    lapsed = [m for m in messages if leases.lapsed(m.coordinates, now)]
    if not lapsed:
        return messages
    for message in lapsed:
        acknowledgements.mark(message, AcknowledgeType.RELEASE)
        acknowledgements.lapse(message.coordinates)
        _lock_expired(consumer, message, bus, started=False)
    acknowledgements.lapsed_before_start = len(lapsed)
    return [m for m in messages if m.coordinates not in acknowledgements.lapsed]


def _lock_expired(
    consumer: ShareGroupConsumer, message: Message, bus: EventBus, started: bool
) -> None:
    if bus.wants("lock.expired"):
        bus.publish(
            "lock.expired",
            share_group=consumer.share_group.name,
            consumer=type(consumer).__name__,
            record=describe([message]),
            processed=started,
        )
    try:
        consumer.lock_expired(message)
    except Exception as exc:
        bus.publish(
            "consumer.error",
            share_group=consumer.share_group.name,
            error=f"{type(consumer).__name__}.lock_expired failed: {exc}",
            exception=exc,
        )
