"""Running a job in the calling thread (the listener's, or a worker's), and ending its consumers.

Each thread keeps its own consumer instance per topic (created on first use, shut down when
the thread ends). A consumer class whose constructor raises settles the job like a failed
``consume`` instead of killing the thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..clients.base import ShareConsumerClientFactory
from ..consumer import ShareGroupConsumer
from ..instrumentation import EventBus
from ..messages import Message
from ..processing.acknowledgements import JobAcknowledgements
from ..processing.executor import RunInterrupted, describe, execute_job, execute_singly
from ..processing.leases import LeaseTracker
from ..processing.transactions import transaction_mode
from ..routing.settings import GroupSettings
from .intake import Job, RecordIntake

if TYPE_CHECKING:  # OpenTelemetry is imported only where tracing is on
    from ..instrumentation.tracing import JobTracer

logger = logging.getLogger("django_sharegroups.runtime")


#: One-record jobs run back to back on one set of acknowledgements, at most.
SINGLES_PER_RUN = 100


class JobRunner:
    def __init__(
        self,
        share_group: GroupSettings,
        factory: ShareConsumerClientFactory,
        *,
        bus: EventBus,
        leases: LeaseTracker,
        intake: RecordIntake,
        tracer: JobTracer | None = None,
    ) -> None:
        self.share_group = share_group
        self.factory = factory
        self.bus = bus
        self.leases = leases
        self.intake = intake
        #: Tracing on: the span of each job; the consumers' records carry its context.
        self.tracer = tracer
        self.producer = factory.producer if tracer is None else tracer.producer(factory.producer)
        self.adapter = factory.client_class.name
        #: How ``extend_lock`` reaches the owner thread (None: the adapter cannot RENEW).
        self.on_renew: Callable[[Message], None] | None = None
        #: Jobs running now by thread, for the shutdown report (described when asked).
        self.running: dict[int, tuple[ShareGroupConsumer, Job]] = {}

    def __call__(self, job: Job, consumers: dict[str, ShareGroupConsumer]) -> JobAcknowledgements:
        topic = job.topic
        consumer = consumers.get(topic.name)
        if consumer is None:
            try:
                consumer = consumers[topic.name] = topic.consumer_class(
                    self.share_group.route, topic.route, producer=self.producer
                )
            except Exception as exc:  # settle the job like a failed consume()
                return self.intake.fail(job, "creating the consumer", exc)
        key = threading.get_ident()
        self.running[key] = (consumer, job)
        try:
            return execute_job(
                consumer,
                job.messages,
                self.bus,
                implicit=topic.implicit,
                leases=self.leases,
                polled_at=job.polled_at,
                deadline=job.deadline,
                partition_scoped=topic.partition_scoped,
                on_renew=self.on_renew,
                adapter=self.adapter,
                tracer=self.tracer,
            )
        finally:
            self.running.pop(key, None)

    def run_singly(
        self,
        jobs: list[Job],
        start: int,
        budget: float,
        consumers: dict[str, ShareGroupConsumer],
    ) -> tuple[Job, JobAcknowledgements]:
        """The one-record jobs of ``jobs[start]``'s topic from ``start`` on (up to
        ``SINGLES_PER_RUN``), run back to back on one set of acknowledgements
        (``execute_singly``) where nothing needs a job of its own: a consumer without a
        transaction (a rollback revokes its job's ACCEPTs) and no tracing (a span per job).
        Returns the job of the records taken (the calls stop after ``budget`` seconds) and
        its acknowledgements; otherwise ``jobs[start]``, run as usual."""
        first = jobs[start]
        topic = first.topic
        consumer = consumers.get(topic.name)
        if consumer is None or self.tracer is not None or any(transaction_mode(consumer)):
            return first, self(first, consumers)
        end, limit = start + 1, min(len(jobs), start + SINGLES_PER_RUN)
        while end < limit and jobs[end].topic is topic and len(jobs[end].messages) == 1:
            end += 1
        messages = [job.messages[0] for job in jobs[start:end]]
        run = Job(topic, messages, first.polled_at, first.deadline)
        key = threading.get_ident()
        self.running[key] = (consumer, run)
        try:
            acknowledgements = execute_singly(
                consumer,
                run.messages,
                self.bus,
                implicit=topic.implicit,
                leases=self.leases,
                polled_at=first.polled_at,
                deadline=first.deadline,
                partition_scoped=topic.partition_scoped,
                on_renew=self.on_renew,
                adapter=self.adapter,
                budget=budget,
            )
        except RunInterrupted as interrupted:
            run.messages = list(interrupted.acknowledgements.messages.values())
            interrupted.job = run
            raise
        finally:
            self.running.pop(key, None)
        taken = len(acknowledgements.messages)
        if taken < len(run.messages):
            run.messages = run.messages[:taken]
        return run, acknowledgements


def describe_running(running: dict[int, tuple[ShareGroupConsumer, Job]]) -> str | None:
    """``Consumer(topic[p]@o, ...)`` for each job running now, for the shutdown report."""
    jobs = list(running.values())
    return "; ".join(f"{type(c).__name__}({describe(job.messages)})" for c, job in jobs) or None


def shutdown_consumers(consumers: dict[str, ShareGroupConsumer], owner: str) -> None:
    """Call each consumer's ``shutdown()`` hook; one that raises never stops the others."""
    for consumer in consumers.values():
        try:
            consumer.shutdown()
        except Exception:
            logger.exception("%s: %r.shutdown() failed", owner, consumer)
