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


def read_log(log: Path) -> tuple[set[tuple[int, int]], dict[int, int], float]:
    """Distinct records accepted, records per pid, the last acceptance (wall clock)."""
    records, per_pid, last = set(), {}, 0.0
    if log.exists():
        for line in log.read_text().splitlines():
            _, partition, offset, pid, _, at = line.split()
            records.add((int(partition), int(offset)))
            per_pid[int(pid)] = per_pid.get(int(pid), 0) + 1
            last = max(last, float(at))
    return records, per_pid, last


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
    total, ticks = 0, os.sysconf("SC_CLK_TCK")
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
    done = wait_until(lambda: len(read_log(log)[0]) >= records, timeout=RUN_TIMEOUT)
    cpu = cpu_seconds(pids) - cpu_before
    accepted, per_pid, last = read_log(log)
    assert done, f"only {len(accepted)} of {records} records were accepted"
    return {
        "rate": records / (last - produced_at),
        "per_process": sorted(per_pid.values()),
        "cpu_ms": cpu * 1000 / records,
        "duplicates": sum(per_pid.values()) - len(accepted),
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
                        f"round {round_number + 1}, {name}: {result['rate']:,.0f} records/s, "
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


def report(args, iterations: int, results: dict[str, list[dict]], load_before, load_after) -> None:
    def rates(name: str) -> list[float]:
        return [result["rate"] for result in results[name]]

    def median(name: str) -> float:
        return statistics.median(rates(name))

    engine_pairs = [
        two / one
        for one, two in zip(rates("engine, 1 process"), rates("engine, 2 processes"), strict=True)
    ]
    reference_pairs = [
        two / one
        for one, two in zip(
            rates("reference loop, 1 process"), rates("reference loop, 2 processes"), strict=True
        )
    ]
    ratio = median("engine, 2 processes") / median("engine, 1 process")
    reference_ratio = median("reference loop, 2 processes") / median("reference loop, 1 process")

    def row(name: str) -> str:
        runs = ", ".join(f"{r:,.0f}" for r in rates(name))
        split = ", ".join("/".join(map(str, result["per_process"])) for result in results[name])
        cpu = statistics.median(result["cpu_ms"] for result in results[name])
        twice = sum(result["duplicates"] for result in results[name])
        return f"| {name} | {median(name):,.0f} | {runs} | {cpu:.2f} | {split} | {twice} |"

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
acceptance (median of {args.rounds}). CPU ms per record: user + system time of the consuming
processes (and their children) while the records were consumed, from /proc — unlike the
rate, it does not depend on how busy the machine is.

| contender | records/s (median) | runs | CPU ms/record | records per process | accepted twice |
| --- | --- | --- | --- | --- | --- |
{rows}

`--processes 2` / 1 process: **{ratio:.2f}×** (goal ≥ 1.8×: {verdict}; per round:
{", ".join(f"{p:.2f}" for p in engine_pairs)}). The hand-written loop scales
**{reference_ratio:.2f}×** ({", ".join(f"{p:.2f}" for p in reference_pairs)}) on the same
machine: the ceiling the machine allowed. Load average (1, 5, 15 min) before:
{", ".join(f"{v:.1f}" for v in load_before)}; after: {", ".join(f"{v:.1f}" for v in load_after)}
on {os.cpu_count()} cores — two processes can only double the rate when two cores are free.
{autogroup_note()}
""",
    )


if __name__ == "__main__":
    main()
