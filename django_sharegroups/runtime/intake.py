"""Intake: turns the records of one poll into jobs (deserialize → filter → build jobs).

Everything here may run user code (deserializers, ``filter``, custom jobs builders, ``per_key``
hashing the key). When that code raises, only the records it raised on are taken out: they are
settled as if ``consume`` had raised on them (RELEASE in explicit mode, so retries, the DLQ and
the broker's delivery limit apply; REJECT in implicit mode), with the reason kept, and the
other records go on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..clients.base import AcknowledgeType, ReceivedRecord
from ..exceptions import ShareGroupsError
from ..instrumentation import EventBus
from ..messages import Message
from ..processing.acknowledgements import JobAcknowledgements
from ..processing.executor import describe
from ..routing.settings import TopicSettings

logger = logging.getLogger("django_sharegroups.runtime")


class UserCodeError(ShareGroupsError):
    """User code outside ``consume`` (filter, jobs builder, hook) raised on a record; the
    message names the stage and the original error (which is the ``__cause__``)."""


class Job:
    """Records for one ``consume`` call. A plain class with slots: a frozen dataclass sets each
    field through ``object.__setattr__``, a tenth of a one-record job's own cost."""

    __slots__ = ("topic", "messages", "polled_at", "deadline")

    def __init__(
        self,
        topic: TopicSettings,
        messages: list[Message],
        polled_at: datetime,
        deadline: float | None = None,
    ) -> None:
        self.topic = topic
        self.messages = messages
        self.polled_at = polled_at
        #: When the locks of the poll the records came from run out (``time.time()``; None:
        #: unknown). A RENEW only moves a lock's end later, so until then none of them lapsed.
        self.deadline = deadline

    def __repr__(self) -> str:
        return f"Job({self.topic.name}, {len(self.messages)} records)"


@dataclass(slots=True)
class Intake:
    """What the owner thread does with one poll: jobs to run and records settled already."""

    jobs: list[Job] = field(default_factory=list)
    #: Records to acknowledge as they are: (record, type, reason) — undecodable, filtered out.
    settled: list[tuple[ReceivedRecord, AcknowledgeType, str | None]] = field(default_factory=list)
    #: Records user code raised on, with their acknowledgements decided (and the error).
    failed: list[tuple[Job, JobAcknowledgements]] = field(default_factory=list)


class RecordIntake:
    """Deserializes, filters and groups records into jobs for one share group."""

    def __init__(self, share_group: str, bus: EventBus) -> None:
        self.share_group = share_group
        self.bus = bus

    def take_poll(
        self,
        topics: Mapping[str, TopicSettings],
        records: list[ReceivedRecord],
        polled_at: datetime,
        deadline: float | None,
    ) -> list[Intake]:
        """``take`` for each topic of one poll."""
        if len(topics) == 1:  # no need to split
            return [self.take(next(iter(topics.values())), records, polled_at, deadline)]
        by_topic: dict[str, list[ReceivedRecord]] = {}
        for record in records:
            by_topic.setdefault(record.topic, []).append(record)
        return [self.take(topics[name], rs, polled_at, deadline) for name, rs in by_topic.items()]

    def take(
        self,
        topic: TopicSettings,
        records: Sequence[ReceivedRecord],
        polled_at: datetime,
        deadline: float | None = None,
    ) -> Intake:
        intake = Intake()
        messages = self._filter(topic, self._deserialize(topic, records, intake), intake, polled_at)
        if messages:
            for job_messages in self._build_jobs(topic, messages, intake, polled_at):
                intake.jobs.append(Job(topic, job_messages, polled_at, deadline))
        return intake

    def _deserialize(
        self, topic: TopicSettings, records: Sequence[ReceivedRecord], intake: Intake
    ) -> list[Message]:
        undecodable: list[tuple[ReceivedRecord, str]] = []
        messages = topic.deserializers.messages(records, undecodable)
        for record, error in undecodable:
            action = topic.on_deserialization_error
            intake.settled.append((record, action, f"DeserializationError: {error}"))
            self.bus.publish(
                "record.undeserializable",
                share_group=self.share_group,
                record=f"{record.topic}[{record.partition}]@{record.offset}",
                error=error,
                action=action.name,
            )
        return messages

    def _filter(
        self, topic: TopicSettings, messages: list[Message], intake: Intake, polled_at: datetime
    ) -> list[Message]:
        keep = topic.filter
        if keep is None or not messages:
            return messages
        kept, dropped = [], 0
        for message in messages:
            try:
                wanted = keep(message)
            except Exception as exc:
                self._failed(topic, [message], "filter", exc, intake, polled_at)
                continue
            if wanted:
                kept.append(message)
            else:
                dropped += 1
                intake.settled.append((message.record, AcknowledgeType.ACCEPT, None))
        if dropped:
            self.bus.publish(
                "records.filtered", share_group=self.share_group, topic=topic.name, count=dropped
            )
        return kept

    def _build_jobs(
        self, topic: TopicSettings, messages: list[Message], intake: Intake, polled_at: datetime
    ) -> list[list[Message]]:
        try:
            jobs = topic.build_jobs(messages, topic.max_messages_per_job)
            if topic.custom_jobs_builder:
                _check_jobs(jobs, messages)
            return jobs
        except Exception as exc:
            if len(messages) == 1:
                self._failed(topic, messages, "jobs builder", exc, intake, polled_at)
                return []
        # find the record(s) it fails on: one record at a time
        return [
            job
            for message in messages
            for job in self._build_jobs(topic, [message], intake, polled_at)
        ]

    def _failed(
        self,
        topic: TopicSettings,
        messages: list[Message],
        stage: str,
        exc: Exception,
        intake: Intake,
        polled_at: datetime,
    ) -> None:
        job = Job(topic, messages, polled_at)
        intake.failed.append((job, self.fail(job, stage, exc)))

    def fail(self, job: Job, stage: str, exc: Exception) -> JobAcknowledgements:
        """Settle ``job``'s records after user code raised on them at ``stage``."""
        error = UserCodeError(f"{stage} raised {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        acknowledgements = JobAcknowledgements(job.messages)
        acknowledgements.error = error
        action = AcknowledgeType.REJECT if job.topic.implicit else AcknowledgeType.RELEASE
        acknowledgements.mark_all_unacknowledged(action)
        self.bus.publish(
            "records.failed",
            share_group=self.share_group,
            topic=job.topic.name,
            stage=stage,
            records=describe(job.messages),
            error=str(error),
            action=action.name,
            exception=exc,
        )
        return acknowledgements


def _check_jobs(jobs: Iterable[Sequence[Message]], messages: list[Message]) -> None:
    """A custom builder must hand back each record exactly once (else a record would never be
    acknowledged, and librdkafka refuses the next poll)."""
    given = sorted(id(m) for job in jobs for m in job)
    if given != sorted(id(m) for m in messages):
        raise ValueError("the jobs builder dropped or repeated records")
