"""The owner thread's side of acknowledgements: applies settlements to the client.

Only the thread that owns the client calls this. It asks the topic's strategy (chosen once,
see processing/settlement.py) what becomes of each record of a job and carries it out:
acknowledge, hold for a delayed release, dead-letter, or leave a lapsed record to the broker.
Each acknowledgement drops the lease and tells the poison observer; lapsed locks are summed
up and reported once per poll.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..clients.base import (
    AcknowledgeType,
    ProduceError,
    ReceivedRecord,
    RecordProducer,
    ShareConsumerClient,
)
from ..instrumentation import EventBus
from ..messages import Message
from ..processing import dead_letter
from ..processing.acknowledgements import TYPE_NAMES as _NAMES
from ..processing.acknowledgements import JobAcknowledgements
from ..processing.acquisition import AcquisitionSizer
from ..processing.delayed_release import DelayedReleases, latest_release
from ..processing.executor import describe
from ..processing.leases import LeaseTracker
from ..processing.poison import PoisonObserver
from ..processing.renewal import RenewScheduler
from ..processing.settlement import (
    Action,
    DeadLetterStrategy,
    DefaultStrategy,
    SettlementStrategy,
)
from ..routing.settings import TopicSettings
from .intake import Intake, Job
from .workers import RenewRequest, WorkerFailure

logger = logging.getLogger("django_sharegroups.runtime")
#: Read per job: a module global costs a tenth of ``AcknowledgeType.ACCEPT``.
_ACCEPT = AcknowledgeType.ACCEPT


def strategy_for(topic: TopicSettings) -> SettlementStrategy:
    dlq = topic.dead_letter_queue
    return DeadLetterStrategy(dlq.topic, dlq.max_retries) if dlq else DefaultStrategy()


def _name(counted: AcknowledgeType | str) -> str:
    return counted if isinstance(counted, str) else _NAMES[counted]


@dataclass(slots=True)
class ExpiredLocks:
    """Lapsed locks since the last report (one summary line per poll)."""

    not_started: int = 0
    processed: int = 0
    examples: list[Message] = field(default_factory=list)


class Settler:
    def __init__(
        self,
        share_group: str,
        topics: Mapping[str, TopicSettings],
        client: ShareConsumerClient,
        *,
        leases: LeaseTracker,
        delayed: DelayedReleases,
        observer: PoisonObserver,
        producer: Callable[[], RecordProducer],
        bus: EventBus,
        renews: bool,
        lock_ms: Callable[[], int | None],
        sizer: AcquisitionSizer,
        renewal: RenewScheduler,
    ) -> None:
        self.share_group = share_group
        self.strategies = {name: strategy_for(topic) for name, topic in topics.items()}
        self.client = client
        self.leases = leases
        self.delayed = delayed
        self.observer = observer
        self.producer = producer
        self.bus = bus
        self.renews = renews
        self.lock_ms = lock_ms
        self.sizer = sizer
        self.renewal = renewal
        self.expired = ExpiredLocks()
        #: ACCEPTs of settled jobs not yet handed to the client (:meth:`flush`), where the
        #: adapter takes many for less than one call each (a poll's one-record jobs: one call).
        self.bulk = client.bulk_acknowledge
        self._accepted: list[ReceivedRecord] = []
        #: Acknowledgement counts per topic since the last flush: one ``acks.sent`` per topic
        #: for the jobs settled together (it had been a tenth of a one-record job's CPU).
        self._sent: dict[str, Counter[AcknowledgeType | str]] = {}
        #: Job durations per consumer class since the last flush: one ``jobs.timed`` for the
        #: jobs settled together (a ``job.finished`` per job for the event counts had been a
        #: quarter of a one-record job's CPU).
        self._timed: dict[str, list[float]] = {}
        self.consumer_names = {
            name: topic.consumer_class.__name__ for name, topic in topics.items()
        }

    def handle(self, items: list) -> None:
        """What the worker pool handed back: finished jobs and RENEW requests are applied, a
        worker failure is raised (the listener fails with it)."""
        renewed = 0
        for item in items:
            if isinstance(item, WorkerFailure):
                raise item.error
            if isinstance(item, RenewRequest):
                renewed = self.renew([item.record], self.lock_ms()) or renewed
            else:
                self.job_done(item.job, item.acknowledgements)
        self.flush()
        if renewed:
            self.client.commit_async()

    def flush(self) -> None:
        """Hand the client the ACCEPTs settled since the last flush and report what was
        settled (``acks.sent``). The owner thread calls this before it next polls, commits or
        renews (the acknowledgements leave with those requests)."""
        if self._accepted:
            accepted, self._accepted = self._accepted, []
            self.client.acknowledge_all(accepted, AcknowledgeType.ACCEPT)
        if self._sent:
            sent, self._sent = self._sent, {}
            for topic, counts in sent.items():
                self.bus.publish(
                    "acks.sent",
                    share_group=self.share_group,
                    topic=topic,
                    counts={_name(t): n for t, n in counts.items()},
                )
        if self._timed:
            timed, self._timed = self._timed, {}
            if self.bus.wants("jobs.timed"):
                for topic, seconds in timed.items():
                    self.bus.publish(
                        "jobs.timed",
                        share_group=self.share_group,
                        consumer=self.consumer_names[topic],
                        seconds=seconds,
                    )

    def _tally(self, topic: str) -> Counter[AcknowledgeType | str]:
        """This flush's acknowledgement counts of ``topic`` (types, or names such as
        ``RELEASE_DELAYED``), named when ``acks.sent`` is published."""
        tally = self._sent.get(topic)
        if tally is None:
            tally = self._sent[topic] = Counter()
        return tally

    def job_done(self, job: Job, acknowledgements: JobAcknowledgements | None) -> None:
        """Settle a finished job; its duration feeds acquisition sizing (reported by the
        poller, once per poll) and ``jobs.timed`` (at :meth:`flush`)."""
        if acknowledgements is not None and acknowledgements.started:
            durations = acknowledgements.durations
            if durations is None:
                durations = [acknowledgements.seconds]
                self.sizer.job_finished(acknowledgements.started, acknowledgements.seconds)
            else:  # one-record jobs run back to back: each call as a job of its own
                self.sizer.jobs_finished(durations)
            timed = self._timed.get(job.topic.name)
            if timed is None:
                timed = self._timed[job.topic.name] = []
            timed += durations
        self.apply(job, acknowledgements)

    def take(self, intake: Intake) -> None:
        """Settle what intake settled already: undecodable and filtered records, and the
        records user code raised on."""
        for record, ack_type, reason in intake.settled:
            self.acknowledge(record, ack_type, reason)
        for job, acknowledgements in intake.failed:
            self.apply(job, acknowledgements)

    def renew_due(self) -> int:
        """RENEW the held records whose renewal is due (adapters with RENEW); how many."""
        lock_ms = self.lock_ms()
        if not self.renews or not lock_ms:
            return 0
        return self.renew(self.renewal.due(lock_ms, time.time()), lock_ms)

    def apply(self, job: Job, acknowledgements: JobAcknowledgements | None) -> None:
        """Settle every record of ``job`` (None: it was not started — RELEASE them all)."""
        if acknowledgements is None:
            for message in job.messages:
                self.acknowledge(message.record, AcknowledgeType.RELEASE)
            return
        strategy = self.strategies[job.topic.name]
        if strategy.as_marked(acknowledgements):
            self._acknowledge_as_marked(job.topic.name, acknowledgements)
            return
        names: list[AcknowledgeType | str] | None = [] if self.bus.wants("acks.sent") else None
        for settlement in strategy.settle(acknowledgements):
            message, ack_type, action = settlement.message, settlement.ack_type, settlement.action
            if action is Action.LAPSED:
                self.acknowledge(message.record, ack_type, observe=False)
                self.observer.lapsed(message.record)
                if len(self.expired.examples) < 3:
                    self.expired.examples.append(message)
                continue
            name: AcknowledgeType | str
            if action is Action.HOLD:
                self.hold(message, settlement.delay_ms)
                name = "RELEASE_DELAYED"
            elif action is Action.DEAD_LETTER:
                name = self.dead_letter(
                    message, job.topic, settlement.error, acknowledgements.trace_headers
                ).name
            else:
                self.acknowledge(message.record, ack_type, settlement.error)
                name = ack_type
            if names is not None:
                names.append(name)
        if acknowledgements.lapsed:
            lapsed = len(acknowledgements.lapsed)
            self.expired.not_started += acknowledgements.lapsed_before_start
            self.expired.processed += lapsed - acknowledgements.lapsed_before_start
        if names is not None:  # counted once per job, in C
            self._tally(job.topic.name).update(names)

    def _acknowledge_as_marked(self, topic: str, acknowledgements: JobAcknowledgements) -> None:
        """``apply`` for a job the strategy leaves as marked: no ``Settlement`` per record.
        ACCEPTs wait for :meth:`flush` where the adapter takes them in bulk; everything else
        goes through :meth:`acknowledge`."""
        marked = acknowledgements.marked()
        types = marked.values()
        counted: Counter[AcknowledgeType | str] | None = (
            self._tally(topic) if self.bus.wants("acks.sent") else None
        )
        if len(marked) == 1:  # a one-record job (per_message): no list, set or Counter
            ((record, ack_type),) = marked.items()
            if ack_type is _ACCEPT and self.bulk:
                self._accepted.append(record)
                self.leases.settled(record)
            else:
                self.acknowledge(record, ack_type, acknowledgements.error_for(record))
            if counted is not None:
                counted[ack_type] += 1
            return
        if _ACCEPT in types and len(set(types)) == 1 and acknowledgements.complete():
            # every record ACCEPTed (the usual): the records in the job's order
            accepted = list(acknowledgements.messages)
            if self.bulk:
                self._accepted += accepted
            else:
                self.client.acknowledge_all(accepted, _ACCEPT)
            self.leases.settled_all(marked)
            if counted is not None:
                counted[_ACCEPT] += len(accepted)
            return
        for record, ack_type in marked.items():
            self.acknowledge(record, ack_type, acknowledgements.error_for(record))
        if counted is not None:
            counted.update(types)

    def report_expired_locks(self) -> None:
        expired = self.expired
        if not expired.not_started and not expired.processed:
            return
        self.expired = ExpiredLocks()
        if self.bus.wants("locks.expired"):
            self.bus.publish(
                "locks.expired",
                share_group=self.share_group,
                not_started=expired.not_started,
                processed=expired.processed,
                records=describe(expired.examples),
            )

    def acknowledge(
        self,
        record: ReceivedRecord,
        ack_type: AcknowledgeType,
        error: BaseException | str | None = None,
        observe: bool = True,
    ) -> None:
        self.client.acknowledge(record, ack_type)
        self.leases.settled(record)
        if observe and ack_type is not _ACCEPT:
            self.observer.acknowledged(record, ack_type, error)

    def renew(self, records: list[ReceivedRecord], lock_ms: int | None) -> int:
        """RENEW the records still held (acknowledged ones are skipped); how many were."""
        held = [record for record in records if self.leases.holds(record)]
        for record in held:
            self.client.acknowledge(record, AcknowledgeType.RENEW)
        if held and lock_ms:
            self.leases.renewed(held, lock_ms, time.time())
        if held and self.bus.wants("lock.renewed"):
            for record in held:
                self.bus.publish(
                    "lock.renewed",
                    share_group=self.share_group,
                    record="{}[{}]@{}".format(*record.coordinates),
                )
        return len(held)

    def release(self, message: Message) -> None:
        self.acknowledge(message.record, AcknowledgeType.RELEASE)

    def hold(self, message: Message, delay_ms: int) -> None:
        now = time.time()
        latest = None
        if not self.renews:
            latest = latest_release(self.leases.deadline(message.record), self.lock_ms(), now)
        if not self.delayed.hold(message, delay_ms, now, latest):
            self.release(message)

    def dead_letter(
        self,
        message: Message,
        topic: TopicSettings,
        error: BaseException | str | None,
        trace_headers: dead_letter.Headers | None = None,
    ) -> AcknowledgeType:
        """Copy to the DLQ and REJECT; if the DLQ does not take it, RELEASE (never lose it)."""
        assert topic.dead_letter_queue is not None
        dlq_topic = topic.dead_letter_queue.topic
        try:
            partition, offset = dead_letter.dispatch(
                self.producer(), dlq_topic, message, self.share_group, error, trace_headers
            )
        except ProduceError as exc:
            self.bus.publish(
                "dlq.failed",
                share_group=self.share_group,
                record=describe([message]),
                dlq_topic=dlq_topic,
                error=str(exc),
            )
            self.release(message)
            return AcknowledgeType.RELEASE
        if self.bus.wants("dlq.dispatched"):
            self.bus.publish(
                "dlq.dispatched",
                share_group=self.share_group,
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.raw_key,
                headers=list(message.raw_headers),
                payload=message.raw_payload,
                delivery_count=message.delivery_count,
                error_class=type(error).__qualname__ if isinstance(error, BaseException) else None,
                error_message=str(error) if error is not None else None,
                dlq_topic=dlq_topic,
                dlq_partition=partition,
                dlq_offset=offset,
            )
        self.acknowledge(message.record, AcknowledgeType.REJECT, error)
        return AcknowledgeType.REJECT
