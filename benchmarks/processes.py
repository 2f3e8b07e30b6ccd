"""CPU-bound jobs: ``runshareconsumers`` with 1 process against ``--processes 2``.

``python -m benchmarks.processes [--records 3000] [--rounds 3] [--job-ms 2] [--bootstrap H:P]``

Each record costs ``--job-ms`` of pure-Python CPU work (a loop calibrated in CPU time, so
the work is the same however busy the machine is). Per run: a fresh topic of 4 partitions
and share group; the consumers are started and the broker has assigned partitions to each
before the records are produced, so startup is not measured; records/s = records / (last
acceptance - first produce). Contenders alternate in every round:

- the engine, 1 process: ``manage.py runshareconsumers`` (one listener thread);
- the engine, 2 processes: ``manage.py runshareconsumers --processes 2``;
- the reference: a hand-written ``confluent_kafka.ShareConsumer`` loop (poll, work, ACCEPT
  each record) in 1 and in 2 processes — what the machine can do without the engine.

Goal: the engine with 2 processes ≥ 1.8 × the engine with 1 on a 2-core machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import signal
import statistics
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from tests.fixtures.processes_app.consumers import cpu_work  # noqa: E402
from tests.helpers import wait_assigned, wait_until  # noqa: E402
from tests.services.kafka import alter_share_group_config  # noqa: E402

from .report import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 4
#: Seconds for a long run before the benchmark gives up on it.
RUN_TIMEOUT = 600


def calibrate(job_ms: float) -> int:
    """Iterations of ``cpu_work`` that take ``job_ms`` of CPU time (not wall time)."""
    iterations = 20_000
    while True:
        started = time.process_time()
        cpu_work(iterations)
        spent = time.process_time() - started
        if spent > 0.2:
            return max(1, int(iterations * job_ms / 1000 / spent))
        iterations *= 2


class Kafka:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self.topics: list[str] = []

    def topic(self) -> str:
        """A fresh topic; its share group (same name) reads from the earliest offset."""
        name = f"bench-processes-{uuid.uuid4().hex[:8]}"
        self.admin.create_topics([NewTopic(name, PARTITIONS, 1)])[name].result(30)
        alter_share_group_config(self.admin, name, {"share.auto.offset.reset": "earliest"})
        self.topics.append(name)
        return name

    def produce(self, topic: str, count: int) -> float:
        """Spread over every partition; returns when producing started (wall clock)."""
        # batches of 10: a member acquires whole batches, and a poll of hundreds of records
        # would outlive its acquisition lock on a slow machine (then records come twice)
        producer = Producer(
            {"bootstrap.servers": self.bootstrap, "linger.ms": 5, "batch.num.messages": 10}
        )
        started = time.time()
        for n in range(count):
            producer.produce(topic, b'{"n": %d}' % n, partition=n % PARTITIONS)
        assert producer.flush(60) == 0
        return started

    def clean_up(self) -> None:
        if self.topics:
            for future in self.admin.delete_topics(self.topics).values():
                future.exception(30)


class AcceptanceLog:
    """The consumers' log of accepted records, read incrementally.

    Parsing the whole file 20 times a second cost this process a tenth of a core, taken from
    the consumers it measures (most from the two-process runs, which need both cores).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: set[tuple[int, int]] = set()
        self.per_pid: dict[int, int] = {}
        #: Acceptance times (wall clock) of every line.
        self.times: list[float] = []
        self._offset = 0
        self._partial = b""

    def refresh(self) -> int:
        """Read what was appended since the last call; returns the distinct records so far."""
        if not self.path.exists():
            return 0
        with self.path.open("rb") as log:
            log.seek(self._offset)
            data = log.read()
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            _, partition, offset, pid, _, at = line.split()
            self.records.add((int(partition), int(offset)))
            self.per_pid[int(pid)] = self.per_pid.get(int(pid), 0) + 1
            self.times.append(float(at))
        return len(self.records)

    @property
    def last(self) -> float:
        """The last acceptance (wall clock)."""
        return max(self.times)

    def steady_rate(self) -> float:
        """Records/s between the 10th and the 90th percentile of acceptance: without the
        first fetch, acquisition's ramp-up (one record per worker, then doubling) and the
        tail where one process has finished its partitions and the other has not."""
        times = sorted(self.times)
        low, high = len(times) // 10, len(times) * 9 // 10
        return (high - low) / (times[high] - times[low])


def engine_run(kafka: Kafka, processes: int, records: int, iterations: int, log: Path) -> dict:
    """``manage.py runshareconsumers`` (``--processes 2`` for 2) on a fresh topic."""
    topic = kafka.topic()
    command = [sys.executable, "manage.py", "runshareconsumers", "--group", topic]
    if processes > 1:
        command += ["--processes", str(processes)]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.fixtures.processes_settings",
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "PROCESSES_TOPIC": topic,
        "PROCESSES_LOG": str(log),
        "PROCESSES_CPU_ITERATIONS": str(iterations),
        "LOG_LEVEL": "INFO",
    }
    output = log.with_suffix(".out")
    with output.open("w") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        started = re.compile(r"Started \d+ share-consumer instance")
        joined = wait_until(
            lambda: len(started.findall(output.read_text())) >= processes, timeout=RUN_TIMEOUT
        )
        assert joined and process.poll() is None, output.read_text()[-3000:]
        return measure(kafka, topic, processes, records, log, [process.pid])
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(120)
        assert code == 0, f"exit code {code}: {output.read_text()[-3000:]}"


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes and their children, from /proc."""
    total: float = 0
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
        total += cpu_seconds([int(child) for child in children]) * ticks
    return total / ticks


def measure(kafka: Kafka, topic: str, members: int, records: int, log: Path, pids) -> dict:
    wait_assigned(kafka.bootstrap, topic, members, timeout=RUN_TIMEOUT)
    cpu_before = cpu_seconds(pids)
    produced_at = kafka.produce(topic, records)
    accepted = AcceptanceLog(log)
    done = wait_until(lambda: accepted.refresh() >= records, timeout=RUN_TIMEOUT, interval=0.2)
    cpu = cpu_seconds(pids) - cpu_before
    assert done, f"only {len(accepted.records)} of {records} records were accepted"
    return {
        "rate": records / (accepted.last - produced_at),
        "steady": accepted.steady_rate(),
        "per_process": sorted(accepted.per_pid.values()),
        "cpu_ms": cpu * 1000 / records,
        "duplicates": sum(accepted.per_pid.values()) - len(accepted.records),
    }


def reference_consumer(bootstrap: str, topic: str, iterations: int, log: str, ready, stop) -> None:
    """The hand-written loop: poll, work, ACCEPT each record, log what was accepted."""
    from confluent_kafka import AcknowledgeType, ShareConsumer

    consumer = ShareConsumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": topic,
            "share.acknowledgement.mode": "explicit",
        }
    )
    consumer.subscribe([topic])
    pid = os.getpid()
    try:
        while not stop.is_set():
            batch = consumer.poll(0.5)
            ready.set()
            lines = []
            for message in batch or ():
                if message.error():
                    continue
                cpu_work(iterations)
                consumer.acknowledge(message, AcknowledgeType.ACCEPT)
                lines.append(
                    f"done {message.partition()} {message.offset()} {pid} 0 {time.time()}\n"
                )
            if lines:
                with open(log, "a") as sink:
                    sink.write("".join(lines))
        consumer.commit_sync(30)
    finally:
        consumer.close()


def reference_run(kafka: Kafka, processes: int, records: int, iterations: int, log: Path) -> dict:
    topic = kafka.topic()
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    readies = [context.Event() for _ in range(processes)]
    children = [
        context.Process(
            target=reference_consumer,
            args=(kafka.bootstrap, topic, iterations, str(log), ready, stop),
        )
        for ready in readies
    ]
    for child in children:
        child.start()
    try:
        assert wait_until(lambda: all(r.is_set() for r in readies), timeout=RUN_TIMEOUT)
        return measure(kafka, topic, processes, records, log, [c.pid for c in children])
    finally:
        stop.set()
        for child in children:
            child.join(60)


CONTENDERS = {
    "engine, 1 process": (engine_run, 1),
    "engine, 2 processes": (engine_run, 2),
    "reference loop, 1 process": (reference_run, 1),
    "reference loop, 2 processes": (reference_run, 2),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--job-ms", type=float, default=2.0)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    args = parser.parse_args()
    # stop like Ctrl-C (consumers stopped, topics deleted), also when started in the background
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    kafka = Kafka(args.bootstrap)
    iterations = calibrate(args.job_ms)
    print(f"{iterations} iterations ≈ {args.job_ms} ms of CPU per record", flush=True)
    results: dict[str, list[dict]] = {name: [] for name in CONTENDERS}
    load_before = os.getloadavg()
    try:
        with TemporaryDirectory() as directory:
            for round_number in range(args.rounds):
                order = list(CONTENDERS) if round_number % 2 == 0 else list(CONTENDERS)[::-1]
                for name in order:
                    run, processes = CONTENDERS[name]
                    log = Path(directory) / f"{round_number}-{processes}-{run.__name__}.log"
                    result = run(kafka, processes, args.records, iterations, log)
                    results[name].append(result)
                    print(
                        f"round {round_number + 1}, {name}: {result['rate']:,.0f} records/s "
                        f"(steady {result['steady']:,.0f}), "
                        f"{result['cpu_ms']:.2f} CPU ms per record, "
                        f"{result['duplicates']} accepted twice "
                        f"(per process: {result['per_process']})",
                        flush=True,
                    )
    finally:
        kafka.clean_up()
    report(args, iterations, results, load_before, os.getloadavg())


def autogroup_note() -> str:
    """Linux's autogroup shares the CPU per session first: on a machine busy with other
    sessions, a second process of ours adds little CPU."""
    try:
        enabled = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return ""
    if not enabled:
        return ""
    note = (
        "`kernel.sched_autogroup_enabled` is 1 here: the scheduler divides the CPU between "
        "sessions (autogroups) before processes, and the supervisor's children stay in its "
        "session; with many other sessions busy, a second process gets little more CPU than "
        "the first had alone. Only a run on an otherwise idle machine measures the scaling."
    )
    return "\n".join(textwrap.wrap(note, 96))


HEADER = (
    "| contender | records/s (median) | runs | steady records/s (median) | CPU ms/record "
    "| records per process | accepted twice |\n| --- | --- | --- | --- | --- | --- | --- |"
)


def report(args, iterations: int, results: dict[str, list[dict]], load_before, load_after) -> None:
    def values(name: str, key: str = "rate") -> list[float]:
        return [result[key] for result in results[name]]

    def scaling(contender: str, key: str = "rate") -> tuple[float, list[float]]:
        """2 processes / 1 process: the ratio of medians, and the ratio in every round."""
        one, two = values(f"{contender}, 1 process", key), values(f"{contender}, 2 processes", key)
        pairs = [b / a for a, b in zip(one, two, strict=True)]
        return statistics.median(two) / statistics.median(one), pairs

    def listed(numbers: list[float], form: str = ",.0f") -> str:
        return ", ".join(format(n, form) for n in numbers)

    def row(name: str) -> str:
        split = ", ".join("/".join(map(str, result["per_process"])) for result in results[name])
        cpu = statistics.median(values(name, "cpu_ms"))
        twice = sum(result["duplicates"] for result in results[name])
        return (
            f"| {name} | {statistics.median(values(name)):,.0f} | {listed(values(name))} "
            f"| {statistics.median(values(name, 'steady')):,.0f} | {cpu:.2f} | {split} | {twice} |"
        )

    ratio, pairs = scaling("engine")
    steady_ratio, steady_pairs = scaling("engine", "steady")
    reference_ratio, reference_pairs = scaling("reference loop")
    reference_steady, _ = scaling("reference loop", "steady")
    rows = "\n".join(row(name) for name in CONTENDERS)
    command = f"--records {args.records} --rounds {args.rounds} --job-ms {args.job_ms:g}"
    verdict = "met" if ratio >= 1.8 else "not met"
    write_section(
        "processes",
        f"""## Processes: CPU-bound jobs, 1 vs 2 processes

`python -m benchmarks.processes {command}`:
Kafka 4.4 at {args.bootstrap}; per run a fresh topic of {PARTITIONS} partitions and share group,
{args.records:,} records, each costing {args.job_ms:g} ms of pure-Python CPU work
({iterations:,} loop iterations, calibrated in CPU time); consumers join before the records are
produced. Contenders alternate in every round; records/s from the first produce to the last
acceptance (median of {args.rounds}); "steady" counts only the 10th to the 90th percentile of
acceptances (no first fetch, no ramp-up of acquisition, no tail where one process has finished
and the other has not). CPU ms per record: user + system time of the consuming processes (and
their children) while the records were consumed, from /proc — unlike the rate, it does not
depend on how busy the machine is.

{HEADER}
{rows}

`--processes 2` / 1 process: **{ratio:.2f}×** (goal ≥ 1.8×: {verdict}; per round:
{listed(pairs, ".2f")}); steady: {steady_ratio:.2f}× ({listed(steady_pairs, ".2f")}).
The hand-written loop scales **{reference_ratio:.2f}×** ({listed(reference_pairs, ".2f")};
steady {reference_steady:.2f}×) on the same machine: the ceiling the machine allowed. Load
average (1, 5, 15 min) before: {listed(load_before, ".1f")}; after: {listed(load_after, ".1f")}
on {os.cpu_count()} cores — two processes can only double the rate when two cores are free.
{autogroup_note()}
""",
    )


if __name__ == "__main__":
    main()
