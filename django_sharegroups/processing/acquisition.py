"""How many records one poll asks for: sized by time, not by a fixed count.

An instance asks for what its free workers can finish well within the acquisition lock, and
no more than about a second of their work: ``free workers × min(share × lock duration,
horizon) / seconds per record``, where seconds per record is a running estimate over finished
jobs. The horizon leaves records for the other members: share groups put many consumers on
the same partitions, and a member that took half a lock's worth of slow jobs (15 s of 20 ms
jobs is 750 records per worker) left the others idle on a short backlog. The estimate starts
unknown (then a poll asks for one job per free worker, the seed's rule), follows slower jobs
at once and faster ones gradually, and the allowance at most doubles from one poll to the
next — small at first, growing quickly while jobs are fast, shrinking as soon as they slow
down. A poll never asks for more than
``MAX_RECORDS_PER_POLL`` (``MAX_RECORDS_PER_POLL_RENEWING`` when the adapter renews held
records). ``max_messages_per_job`` sizes jobs only.

When the workers would finish ``WHOLE_BATCH_RECORDS`` more records within that second, an
adapter with a strict record limit may acquire whole producer batches instead
(``whole_batches``): the broker then serves more records per fetch for less work, and even the
largest overshoot is finished long before its lock runs out.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..instrumentation import EventBus

#: Part of the acquisition lock a poll's records should be finished in (without RENEW).
LOCK_SHARE = 0.5
#: With auto-renew waiting records are renewed, but a late renewal (a starved owner thread)
#: would still let them lapse: the same share of the lock, only a larger bound per poll.
LOCK_SHARE_RENEWING = LOCK_SHARE
#: Seconds of work per free worker one poll acquires at most (see the module docstring).
HORIZON_SECONDS = 1.0
MAX_RECORDS_PER_POLL = 500
#: Kafka's default ``group.share.partition.max.record.locks`` (2,000) on three partitions: a
#: member that finishes records this fast may hold what the broker lets it.
MAX_RECORDS_PER_POLL_RENEWING = 6000
#: Records a fetch in whole batches may bring beyond what it asked for: about two producer
#: batches of librdkafka's default ``batch.size`` (1 MB) of ~100-byte records.
WHOLE_BATCH_RECORDS = 20_000
#: At a stop, records already acquired are still processed when the workers finish them all
#: within this many seconds at the pace so far; otherwise the jobs not started yet RELEASE
#: theirs. A released record's next delivery counts as another attempt (the DLQ and the
#: broker's delivery limit count them), so a stop should not spend attempts on work that
#: takes a moment; polls hold about a second of work (``HORIZON_SECONDS``).
STOP_FINISH_SECONDS = 2.0
#: Kafka's default ``share.record.lock.duration.ms``, when the lock is not known.
DEFAULT_LOCK_MS = 30_000
#: Weight of a sample faster than the estimate (slower samples are taken as they are).
SPEED_UP_WEIGHT = 0.2
#: Weight of each sample in the pace that decides whole batches (slower or faster): one job
#: ten times slower than the rest moves it three times over; a job of half a millisecond among
#: jobs of microseconds ends whole batches at once.
TYPICAL_WEIGHT = 0.2
#: A change of the allowance by this factor is reported (event + log line).
REPORT_FACTOR = 4


@dataclass(frozen=True, slots=True)
class AcquisitionReport:
    records: int
    seconds_per_record: float | None
    lock_ms: int
    workers: int
    renewing: bool
    whole_batches: bool


class AcquisitionSizer:
    """Owned by one listener thread; not thread-safe."""

    __slots__ = (
        "workers",
        "max_messages_per_job",
        "lock_ms",
        "renewing",
        "seconds_per_record",
        "per_worker",
        "_reported",
        "_reported_whole_batches",
        "typical_seconds_per_record",
    )

    def __init__(
        self, *, workers: int, max_messages_per_job: int, lock_ms: int | None, renewing: bool
    ) -> None:
        self.workers = workers
        self.max_messages_per_job = max_messages_per_job
        self.lock_ms = lock_ms or DEFAULT_LOCK_MS
        self.renewing = renewing
        self.seconds_per_record: float | None = None
        #: Records one free worker may take per poll (at most doubles from poll to poll).
        self.per_worker = max_messages_per_job
        self._reported = 0
        self._reported_whole_batches = False
        #: A moving average of the pace (both ways, ``TYPICAL_WEIGHT``): whole batches follow
        #: it, so one job held up by the collector does not switch them off for a poll.
        self.typical_seconds_per_record: float | None = None

    @property
    def cap(self) -> int:
        return MAX_RECORDS_PER_POLL_RENEWING if self.renewing else MAX_RECORDS_PER_POLL

    @property
    def allowance(self) -> int:
        """Records a poll with every worker free would ask for now."""
        return min(self.cap, self.workers * self.per_worker)

    def records_for(self, free_workers: int) -> int:
        """Records the next poll may ask for, with ``free_workers`` idle."""
        if free_workers <= 0:
            return 0
        if self.seconds_per_record is None:
            wanted = self.max_messages_per_job
        else:
            wanted = max(1, int(self.seconds_of_work / max(self.seconds_per_record, 1e-6)))
        self.per_worker = max(1, min(wanted, self.per_worker * 2, self.cap))
        return min(self.cap, free_workers * self.per_worker)

    @property
    def seconds_of_work(self) -> float:
        """What one worker's share of a poll may take: part of the lock, at most the horizon."""
        share = LOCK_SHARE_RENEWING if self.renewing else LOCK_SHARE
        return min(self.lock_ms / 1000 * share, HORIZON_SECONDS)

    @property
    def whole_batches(self) -> bool:
        """Whether the workers would finish ``WHOLE_BATCH_RECORDS`` more records within one
        worker's share of a poll (``seconds_of_work``): then acquiring whole producer batches
        beyond the allowance cannot put a lock at risk, and the broker serves them cheaper."""
        pace = self.typical_seconds_per_record
        if pace is None:
            return False
        return pace * WHOLE_BATCH_RECORDS <= self.seconds_of_work * self.workers

    def prefetch_for(self, held: int) -> int:
        """Records that may be acquired ahead of the next poll while ``held`` records are
        still to be processed: what the workers finish within the same time after the held
        ones, at most one poll's worth; none while the speed is unknown."""
        pace = self.seconds_per_record
        if pace is None:
            return 0
        pace = max(pace, 1e-6)
        worker_seconds = self.seconds_of_work * self.workers
        room = int((worker_seconds - held * pace) / pace)
        return max(0, min(room, self.allowance))

    def finishes_within(self, records: int, seconds: float) -> bool:
        """Whether the workers would finish ``records`` within ``seconds`` at the pace so far
        (never while it is unknown)."""
        pace = self.seconds_per_record
        return pace is not None and records * pace <= seconds * self.workers

    def job_finished(self, records: int, seconds: float) -> None:
        """Learn from a job that processed ``records`` in ``seconds`` (lapsed ones excluded)."""
        if records > 0:
            self.jobs_finished([seconds / records])

    def jobs_finished(self, paces: list[float]) -> None:
        """Learn from jobs in the order they finished, each by its seconds per record (one-record
        jobs run back to back report their calls' seconds in one list)."""
        estimate, typical = self.seconds_per_record, self.typical_seconds_per_record
        for sample in paces:
            if estimate is None or sample >= estimate:
                estimate = sample
            else:
                estimate += SPEED_UP_WEIGHT * (sample - estimate)
            typical = sample if typical is None else typical + TYPICAL_WEIGHT * (sample - typical)
        self.seconds_per_record, self.typical_seconds_per_record = estimate, typical

    def report_due(self) -> AcquisitionReport | None:
        """A report when the allowance changed a lot since the last one (or none was made),
        or whole batches were allowed or stopped being allowed."""
        last, allowance, whole_batches = self._reported, self.allowance, self.whole_batches
        if (
            last
            and last / REPORT_FACTOR < allowance < last * REPORT_FACTOR
            and whole_batches == self._reported_whole_batches
        ):
            return None
        self._reported, self._reported_whole_batches = allowance, whole_batches
        return AcquisitionReport(
            allowance,
            self.seconds_per_record,
            self.lock_ms,
            self.workers,
            self.renewing,
            whole_batches,
        )

    def publish_report(self, bus: EventBus, share_group: str) -> None:
        """``acquisition.sized`` when a report is due (startup, large changes)."""
        report = self.report_due()
        if report is None or not bus.wants("acquisition.sized"):
            return
        pace = report.seconds_per_record
        bus.publish(
            "acquisition.sized",
            share_group=share_group,
            records=report.records,
            ms_per_record=None if pace is None else round(pace * 1000, 3),
            lock_ms=report.lock_ms,
            workers=report.workers,
            renewing=report.renewing,
            whole_batches=report.whole_batches,
        )
