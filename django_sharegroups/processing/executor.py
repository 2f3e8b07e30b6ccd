"""Runs one job (``execute_job``), or one-record jobs back to back (``execute_singly``): the
consumer's ``consume`` with Django's per-request connection hygiene.

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
from typing import TYPE_CHECKING, Any

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
    connections.before_job()
    failed = True
    try:
        acknowledgements.seconds = _call(
            consumer,
            live,
            acknowledgements,
            bus,
            implicit,
            polled_at or datetime.now().astimezone(),
            partition_scoped,
            tracer,
            bus.wants("job.started"),
            bus.wants("job.finished"),
            None,
        )
        failed = acknowledgements.error is not None
    finally:
        connections.after_job(failed)
    acknowledgements.started = len(live)
    if leases is not None and (deadline is None or time.time() >= deadline):
        _lapsed_while_running(consumer, live, bus, leases, acknowledgements)
    return acknowledgements


class RunInterrupted(BaseException):
    """A call of ``execute_singly`` raised past ``Exception`` (the thread is going down):
    ``acknowledgements`` holds the calls before it, so those are settled before the error
    goes on (``error``); the interrupted call's record is left to the broker, as the record
    of a job that raised it would be."""

    def __init__(self, acknowledgements: JobAcknowledgements, error: BaseException) -> None:
        super().__init__(acknowledgements, error)
        self.acknowledgements = acknowledgements
        self.error = error
        #: The job of the records taken (set by the runtime's runner, which built it).
        self.job: Any = None


def execute_singly(
    consumer: ShareGroupConsumer,
    messages: list[Message],
    bus: EventBus,
    *,
    implicit: bool = False,
    leases: LeaseTracker | None = None,
    polled_at: datetime,
    partition_scoped: bool = False,
    on_renew: Callable[[Message], None] | None = None,
    adapter: str | None = None,
    deadline: float | None = None,
    budget: float = float("inf"),
) -> JobAcknowledgements:
    """One-record jobs of one poll and topic, back to back in this thread: ``consume`` once
    per message, each call a job as ``execute_job`` runs it (its events, its lapsed-lock
    checks, its exception settling only its record), sharing one set of acknowledgements and
    one round of connection hygiene (again after a call that raised). Stops taking messages
    once the calls took ``budget`` seconds; the acknowledgements hold the messages taken.
    ``durations`` has each call's seconds. For consumers without a transaction or a tracer:
    the engine decides (runtime/jobs.py)."""
    acknowledgements = JobAcknowledgements(())
    acknowledgements.on_renew = on_renew
    acknowledgements.adapter = adapter
    durations: list[float] = []
    acknowledgements.durations = durations
    announce, report = bus.wants("job.started"), bus.wants("job.finished")
    add, now = acknowledgements.add, time.time
    spent = 0.0
    connections.before_job()
    interrupted = True
    try:
        for message in messages:
            add(message)
            live = [message]
            lapsing = (
                leases if leases is not None and (deadline is None or now() >= deadline) else None
            )
            if lapsing is not None and not _start_live(
                consumer, live, bus, lapsing, acknowledgements
            ):
                continue
            try:
                seconds = _call(
                    consumer,
                    live,
                    acknowledgements,
                    bus,
                    implicit,
                    polled_at,
                    partition_scoped,
                    None,
                    announce,
                    report,
                    live,
                )
            except BaseException as exc:
                acknowledgements.forget(message)
                acknowledgements.started, acknowledgements.seconds = len(durations), spent
                raise RunInterrupted(acknowledgements, exc) from exc
            durations.append(seconds)
            if acknowledgements.errors and message.record in acknowledgements.errors:
                connections.after_job(failed=True)
                connections.before_job()
            if lapsing is not None:
                _lapsed_while_running(consumer, live, bus, lapsing, acknowledgements)
            spent += seconds
            if spent > budget:
                break
        interrupted = False
    finally:
        connections.after_job(interrupted)
    acknowledgements.started = len(durations)
    acknowledgements.seconds = spent
    return acknowledgements


def _call(
    consumer: ShareGroupConsumer,
    live: list[Message],
    acknowledgements: JobAcknowledgements,
    bus: EventBus,
    implicit: bool,
    polled_at: datetime,
    partition_scoped: bool,
    tracer: JobTracer | None,
    announce: bool,
    report: bool,
    own: list[Message] | None,
) -> float:
    """One ``consume`` call on ``live``: afterwards each of its records is acknowledged (what
    it left open RELEASEd, or ACCEPTed in implicit mode; all RELEASEd/REJECTed if it raised,
    with the exception kept for the record(s) — per record when the acknowledgements are
    shared by several calls, ``own`` then being this call's records). Returns the call's
    seconds."""
    consumer._acknowledgements = acknowledgements
    started = time.perf_counter()
    if announce:
        bus.publish(
            "job.started",
            share_group=consumer.share_group.name,
            consumer=type(consumer).__name__,
            size=len(live),
        )
    span = tracer.start(consumer.share_group.name, consumer.topic.name, live) if tracer else None
    try:
        batch = Messages.of_job(live, consumer.topic.name, polled_at, partition_scoped)
        if own is None:
            run_consume(consumer, batch, acknowledgements, implicit=implicit)  # atomic/idempotent
        else:  # one call of several: never a consumer with a transaction (runtime/jobs.py)
            consumer.consume(batch)
    except Exception as exc:
        if own is not None:
            acknowledgements.fail(own, exc)
        else:
            acknowledgements.error = exc
        if span is not None:
            span.failed(exc)
        ack_type = AcknowledgeType.REJECT if implicit else AcknowledgeType.RELEASE
        settled = acknowledgements.mark_all_unacknowledged(ack_type, own)
        seconds = time.perf_counter() - started
        bus.publish(
            "job.errored",
            share_group=consumer.share_group.name,
            consumer=type(consumer).__name__,
            records=describe(live),
            released=len(settled) if not implicit else 0,
            rejected=len(settled) if implicit else 0,
            exception=exc,
            seconds=seconds,
        )
    else:
        if implicit:
            acknowledgements.mark_all_unacknowledged(AcknowledgeType.ACCEPT, own)
        elif not acknowledgements.complete():
            left = acknowledgements.mark_all_unacknowledged(AcknowledgeType.RELEASE, own)
            bus.publish(
                "job.unacknowledged",
                share_group=consumer.share_group.name,
                consumer=type(consumer).__name__,
                records=describe(left),
            )
        seconds = time.perf_counter() - started
        if report:
            bus.publish(
                "job.finished",
                share_group=consumer.share_group.name,
                consumer=type(consumer).__name__,
                size=len(live),
                acknowledgements=acknowledgements.counts(own),
                seconds=seconds,
            )
    finally:
        if span is not None:
            acknowledgements.trace_headers = span.end()
        consumer._acknowledgements = None
    return seconds


def _lapsed_while_running(
    consumer: ShareGroupConsumer,
    live: list[Message],
    bus: EventBus,
    leases: LeaseTracker,
    acknowledgements: JobAcknowledgements,
) -> None:
    """Records whose lease ran out before the job finished: their acknowledgements leave
    with the next request after it, so the broker may have given them to another member
    meanwhile, however early in the job ``consume`` marked them."""
    now = time.time()
    for message in live:
        record = message.record
        if leases.lapsed(record, now):
            acknowledgements.lapse(record)
            _lock_expired(consumer, message, bus, started=True)


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
    lapsed = [m for m in messages if leases.lapsed(m.record, now)]
    if not lapsed:
        return messages
    for message in lapsed:
        acknowledgements.mark(message, AcknowledgeType.RELEASE)
        acknowledgements.lapse(message.record)
        _lock_expired(consumer, message, bus, started=False)
    acknowledgements.lapsed_before_start += len(lapsed)
    return [m for m in messages if m.record not in acknowledgements.lapsed]


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
