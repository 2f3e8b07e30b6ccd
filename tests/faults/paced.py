"""Issue #12's acceptance scenario: a backlog of large producer batches, ~15 ms jobs, one kill -9.

An idempotent ``per_message`` consumer (tests/fixtures/paced_app) in ``runshareconsumers``
child processes, concurrency 4, on a 3-partition topic with the broker's default group
settings (lock 30 s, delivery limit 5). The consumer is SIGKILLed half-way and started again.
Afterwards the report says, per record, whether ``consume`` committed its effect exactly once,
how many records the broker archived with no effect (from the broker DLQ's rows), how many
records were redelivered because their lock lapsed before their job started (the engine's
``locks.expired`` events, ``not_started``), what over-acquisition the adapter did
(``acquisition.exceeded``) and the throughput against ``GOAL_SHARE × concurrency / job time``.

tests/faults/test_paced.py runs it sized for CI; the long run and its numbers are in
docs/benchmarks.md#issue-12-acceptance-paced-jobs-large-producer-batches-one-kill--9.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .ledger import LedgerRun

JOB_MS = 15
CONCURRENCY = 4
#: Throughput goal of the issue: this share of concurrency / job time.
GOAL_SHARE = 0.8
#: Goal of the issue: records redelivered because their lock lapsed before their job started.
LAPSE_LIMIT = 0.01


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class PacedRun(LedgerRun):
    """A :class:`LedgerRun` of the paced consumer; ``adapter`` "default" sets no CLIENT.

    ``cpu`` adds up the CPU time of each consumer process, read just before it is stopped or
    killed (:meth:`measure_cpu`): CPU per record does not depend on the machine's load."""

    concurrency: int = CONCURRENCY
    job_ms: int = JOB_MS
    cpu: float = 0.0

    def measure_cpu(self) -> None:
        process = self.current
        if process is not None and process.poll() is None:
            self.cpu += cpu_seconds(process.pid)

    @property
    def events_file(self) -> Path:
        return self.workdir / f"{self.name}.events"

    def env(self) -> dict[str, str]:
        from .helpers import ledger_env

        env = ledger_env(
            self.kafka,
            LEDGER_CLIENT="" if self.adapter == "default" else self.adapter,
            LEDGER_DATABASE_URL=self.database_url,
            PACED_GROUP=self.name,
            PACED_TOPIC=self.name,
            PACED_CONCURRENCY=str(self.concurrency),
            PACED_JOB_MS=str(self.job_ms),
            PACED_EVENTS_FILE=str(self.events_file),
        )
        env["DJANGO_SETTINGS_MODULE"] = "tests.fixtures.paced_settings"
        return env

    def read_events(self) -> list[dict]:
        if not self.events_file.exists():
            return []
        return [json.loads(line) for line in self.events_file.read_text().splitlines() if line]


def produce_backlog(
    bootstrap: str,
    topic: str,
    count: int,
    batch_bytes: int = 1_000_000,
    partitions: int | None = 3,
) -> dict[tuple[int, int], str]:
    """``count`` records ``"id-N"`` in large producer batches (up to ``batch_bytes``, 200 ms
    linger), spread evenly over ``partitions`` (record N to partition N mod partitions, each
    partition's batches filled side by side); returns ``{(partition, offset): value}`` from
    the delivery reports.

    ``partitions=None`` leaves the choice to the sticky partitioner (no key), which fills one
    partition's batch at a time: 50–99 % of such a backlog lands in one partition, and as the
    broker gives each partition to two of four members, the others run out of work early (see
    docs/benchmarks.md, issue #12 acceptance)."""
    from confluent_kafka import Producer

    placed: dict[tuple[int, int], str] = {}

    def delivered(error, message) -> None:
        assert error is None, error
        placed[(message.partition(), message.offset())] = json.loads(message.value())

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 200,
            "batch.size": batch_bytes,
            "batch.num.messages": 100_000,
            "acks": "all",
        }
    )
    for number in range(count):
        where = {} if partitions is None else {"partition": number % partitions}
        value = json.dumps(f"id-{number}").encode()
        producer.produce(topic, value, on_delivery=delivered, **where)
        if number % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0
    return placed


def rate(times: list[float]) -> float | None:
    """Records per second from the first to the last of ``times`` (None: too few)."""
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


@dataclass
class PacedReport:
    """What one run measured; ``lines()`` is the printed report, ``as_dict()`` its JSON."""

    adapter: str
    records: int
    concurrency: int
    job_ms: int
    kills: int
    effects_per_record: Counter
    dead_lettered: set[tuple[int, int]]
    delivery_counts: dict[tuple[int, int], int]
    lapsed_not_started: int
    lapsed_processed: int
    exceeded_polls: int
    asked_when_exceeded: int
    received_when_exceeded: int
    rate_before_kill: float | None
    rate_after_restart: float | None
    rate_end_to_end: float | None
    cpu_seconds: float
    #: Mean duration of a job as the engine timed it (``job.finished``), transaction included.
    job_seconds: float | None = None

    @classmethod
    def build(
        cls,
        run: PacedRun,
        placed: dict[tuple[int, int], str],
        effects: list[tuple[int, int, int, float]],
        dead_lettered: set[tuple[int, int]],
        killed_at: float,
    ) -> PacedReport:
        """From the Effect rows ``(partition, offset, delivery_count, at)``, the records with a
        DeadLetter row and the time of the kill."""
        per_record = Counter((partition, offset) for partition, offset, _, _ in effects)
        times = sorted(at for *_, at in effects)
        events = run.read_events()
        lapses = [e for e in events if e["event"] == "locks.expired"]
        exceeded = [e for e in events if e["event"] == "acquisition.exceeded"]
        jobs = [e for e in events if e["event"] == "jobs"]
        timed = sum(e["count"] for e in jobs)
        return cls(
            adapter=run.adapter,
            records=len(placed),
            concurrency=run.concurrency,
            job_ms=run.job_ms,
            kills=run.kills,
            effects_per_record=per_record,
            dead_lettered=dead_lettered,
            delivery_counts={(p, o): count for p, o, count, _ in effects},
            lapsed_not_started=sum(e["not_started"] for e in lapses),
            lapsed_processed=sum(e["processed"] for e in lapses),
            exceeded_polls=len(exceeded),
            asked_when_exceeded=sum(e["asked"] for e in exceeded),
            received_when_exceeded=sum(e["received"] for e in exceeded),
            rate_before_kill=rate([at for at in times if at < killed_at]),
            rate_after_restart=rate([at for at in times if at > killed_at]),
            rate_end_to_end=rate(times),
            cpu_seconds=run.cpu,
            job_seconds=sum(e["seconds"] for e in jobs) / timed if timed else None,
        )

    @property
    def duplicates(self) -> dict[tuple[int, int], int]:
        return {c: n for c, n in self.effects_per_record.items() if n > 1}

    def missing(self, placed: dict[tuple[int, int], str]) -> list[tuple[int, int]]:
        """Records without an effect: ``consume`` never committed on them."""
        return sorted(c for c in placed if c not in self.effects_per_record)

    def archived_unseen(self, placed: dict[tuple[int, int], str]) -> list[tuple[int, int]]:
        """Records the broker archived (a DLQ row) with no effect."""
        return [c for c in self.missing(placed) if c in self.dead_lettered]

    @property
    def lapse_share(self) -> float:
        return self.lapsed_not_started / self.records if self.records else 0.0

    @property
    def redelivered(self) -> int:
        """Records whose effect was written on delivery 2 or later."""
        return sum(1 for count in self.delivery_counts.values() if count >= 2)

    @property
    def cpu_ms_per_record(self) -> float | None:
        """Consumer CPU time per effect written (kill and restart included)."""
        effects = sum(self.effects_per_record.values())
        return 1000 * self.cpu_seconds / effects if effects and self.cpu_seconds else None

    @property
    def goal_rate(self) -> float:
        return GOAL_SHARE * self.concurrency / (self.job_ms / 1000)

    @property
    def measured_ideal(self) -> float | None:
        """Concurrency / the jobs' measured duration: what the instances could do if they
        never waited between jobs."""
        return self.concurrency / self.job_seconds if self.job_seconds else None

    def throughput_met(self) -> bool:
        """Both uninterrupted stretches (before the kill, after the restart) at the goal."""
        stretches = (self.rate_before_kill, self.rate_after_restart)
        return all(r is not None and r >= self.goal_rate for r in stretches)

    def as_dict(self, placed: dict[tuple[int, int], str]) -> dict:
        return {
            "adapter": self.adapter,
            "records": self.records,
            "per_partition": per_partition(placed),
            "kills": self.kills,
            "processed_exactly_once": len(self.effects_per_record) - len(self.duplicates),
            "duplicates": len(self.duplicates),
            "missing": len(self.missing(placed)),
            "dead_lettered": len(self.dead_lettered),
            "archived_unseen": len(self.archived_unseen(placed)),
            "lapsed_not_started": self.lapsed_not_started,
            "lapse_share": round(self.lapse_share, 4),
            "lapsed_processed": self.lapsed_processed,
            "redelivered": self.redelivered,
            "exceeded_polls": self.exceeded_polls,
            "asked_when_exceeded": self.asked_when_exceeded,
            "received_when_exceeded": self.received_when_exceeded,
            "rate_before_kill": _round(self.rate_before_kill),
            "rate_after_restart": _round(self.rate_after_restart),
            "rate_end_to_end": _round(self.rate_end_to_end),
            "cpu_ms_per_record": _round(self.cpu_ms_per_record, 2),
            "goal_rate": round(self.goal_rate),
            "throughput_met": self.throughput_met(),
            "job_ms_measured": _round(self.job_seconds and self.job_seconds * 1000, 2),
            "measured_ideal": _round(self.measured_ideal),
        }

    def lines(self, placed: dict[tuple[int, int], str]) -> str:
        d = self.as_dict(placed)
        over = (
            f"{d['exceeded_polls']} polls over-acquired: asked {d['asked_when_exceeded']:,}, "
            f"received {d['received_when_exceeded']:,}"
            if d["exceeded_polls"]
            else "no poll over-acquired"
        )
        return (
            f"{d['adapter']}: {d['records']:,} records, concurrency {self.concurrency}, "
            f"{self.job_ms} ms jobs, {d['kills']} kill -9; records per partition "
            f"{d['per_partition']}\n"
            f"  exactly once: {d['processed_exactly_once']:,} "
            f"(duplicates {d['duplicates']}, missing {d['missing']}); "
            f"dead-lettered {d['dead_lettered']}, archived unseen {d['archived_unseen']}\n"
            f"  lapsed before start {d['lapsed_not_started']:,} "
            f"({100 * self.lapse_share:.2f} %, limit {100 * LAPSE_LIMIT:g} %), "
            f"lapsed while processing {d['lapsed_processed']:,}; "
            f"effects on delivery >= 2: {d['redelivered']:,}; {over}\n"
            f"  records/s before the kill {_shown(self.rate_before_kill)}, after the restart "
            f"{_shown(self.rate_after_restart)}, end to end {_shown(self.rate_end_to_end)}; "
            f"goal >= {d['goal_rate']} ({GOAL_SHARE} x {self.concurrency} / "
            f"{self.job_ms / 1000:g} s): {'met' if d['throughput_met'] else 'NOT met'}; "
            f"consumer CPU {d['cpu_ms_per_record']} ms per record\n"
            f"  jobs took {d['job_ms_measured'] or '-'} ms on average (the engine's timing, "
            f"transaction included): concurrency / job time = {_shown(d['measured_ideal'])} "
            f"records/s, reached {_share(self.rate_before_kill, self.measured_ideal)} before "
            f"the kill and {_share(self.rate_after_restart, self.measured_ideal)} after the "
            "restart"
        )


def per_partition(placed: dict[tuple[int, int], str]) -> list[int]:
    """Records of the backlog in each partition (0, 1, ...)."""
    counts = Counter(partition for partition, _ in placed)
    return [counts[p] for p in range(max(counts, default=-1) + 1)]


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _share(value: float | None, of: float | None) -> str:
    return "-" if value is None or not of else f"{value / of:.2f}x"


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"
