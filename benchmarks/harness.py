"""What `python -m benchmarks.throughput` runs on: a Kafka broker, a database, the workload and
one contender process at a time.

Every contender runs in a process of its own (``runshareconsumers``, the hand-written loops of
benchmarks/contenders.py, Java's ShareConsumerPerformance), on a fresh share group whose
``share.auto.offset.reset`` is ``earliest``, so each reads the same records from the start.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.services.kafka import (
    KafkaBroker,
    alter_share_group_config,
    create_topic,
    java_command,
)

ROOT = Path(__file__).resolve().parents[1]
RECORD_BYTES = 100
#: Seconds a contender may take to start (Django setup, joining the group) before it is failed.
STARTUP_TIMEOUT = 90.0


@dataclass
class Contender:
    """One way of consuming: a hand-written loop, Java's tool, or ``runshareconsumers``.

    ``kind`` is ``loop`` / ``native`` / ``orm-loop`` (benchmarks/contenders.py), ``java``, or
    ``engine`` (``runshareconsumers`` on benchmarks/project with ``options`` as its route:
    consumer, builder, per_job, concurrency, workers, job_ms) under ``client`` (None: the
    package's default adapter; ``options["args"]`` are extra command-line arguments). A new
    contender is one more entry.
    """

    name: str
    kind: str
    client: str | None = None
    options: dict = field(default_factory=dict)


@dataclass
class Outcome:
    """What one run of a contender measured; ``error`` says why it has no numbers."""

    count: int = 0
    seconds: float | None = None
    cpu: float | None = None
    startup: float | None = None
    samples: list = field(default_factory=list)
    #: seconds since the first record of each record's completion (sleeping consumers only)
    completions: list | None = None
    rss: list = field(default_factory=list)
    error: str | None = None

    @property
    def rate(self) -> float | None:
        return self.count / self.seconds if self.seconds and self.count else None


class Bench:
    """The services of one benchmark run and the way contenders are launched on them."""

    def __init__(self, bootstrap: str | None, kafka_port: int) -> None:
        from confluent_kafka.admin import AdminClient

        self.broker = None  # the broker this run started, stopped again by close()
        if not bootstrap:
            broker = KafkaBroker(kafka_port)
            if broker.pid() is None:
                self.broker = broker
            bootstrap = broker.start()
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
        #: The adapter ``runshareconsumers`` picks when the settings name none.
        self.default_adapter = default_adapter(bootstrap)
        self.workdir = Path(tempfile.mkdtemp(prefix="sharegroups-throughput-"))
        self.database_url, self.postgres = self._database()

    def close(self) -> None:
        if self.broker is not None:
            self.broker.stop()

    # -- services ---------------------------------------------------------------------------

    def _database(self) -> tuple[str, bool]:
        """A fresh, migrated database: ``sharegroups_throughput`` next to ``DATABASE_URL``'s
        PostgreSQL database, else a SQLite file in the work directory."""
        url = os.environ.get("DATABASE_URL", "")
        postgres = url.startswith(("postgres://", "postgresql://"))
        if postgres:
            import psycopg

            with psycopg.connect(url, autocommit=True) as connection:
                connection.execute("DROP DATABASE IF EXISTS sharegroups_throughput WITH (FORCE)")
                connection.execute("CREATE DATABASE sharegroups_throughput")
            parts = urlsplit(url)
            url = urlunsplit(parts._replace(path="/sharegroups_throughput"))
        else:
            url = f"sqlite:///{self.workdir / 'bench.sqlite3'}"
        env = {**os.environ, "DATABASE_URL": url}
        command = [sys.executable, "-m", "django", "migrate", "-v0"]
        command += ["--settings", "benchmarks.project.settings"]
        subprocess.run(command, cwd=ROOT, env=env, check=True)
        return url, postgres

    def topic(self, partitions: int = 3) -> str:
        return create_topic(self.admin, partitions, prefix="bench-throughput")

    def group(self) -> str:
        name = f"bench-group-{uuid.uuid4().hex[:10]}"
        alter_share_group_config(self.admin, name, {"share.auto.offset.reset": "earliest"})
        return name

    def producer(self, **config):
        from confluent_kafka import Producer

        return Producer({"bootstrap.servers": self.bootstrap, **config})

    def produce_backlog(self, topic: str, count: int) -> None:
        """``count`` JSON records of 100 bytes each (``{"n": i, "pad": "xx…"}``), no key, spread
        evenly over the topic's partitions. Without a key the sticky partitioner filled one
        partition's batch at a time and left 80–99 % of a backlog in one partition; a share group
        with more members than partitions gives each member only some partitions, so most
        members had nothing to do: that measured the producer, not the consumers."""
        producer = self.producer(**{"linger.ms": 20, "batch.num.messages": 10000})
        partitions = len(self.admin.list_topics(topic, timeout=30).topics[topic].partitions)
        for n in range(count):
            while True:
                try:
                    producer.produce(topic, record(n), partition=n % partitions)
                    break
                except BufferError:
                    producer.poll(0.1)
        if producer.flush(120):
            raise RuntimeError("the producer could not deliver the workload")

    # -- contenders -------------------------------------------------------------------------

    def command(self, contender: Contender, run: dict) -> list[str]:
        if contender.kind == "engine":
            return [
                *(sys.executable, "-m", "django", "runshareconsumers"),
                *("--settings", "benchmarks.project.settings"),
                *contender.options.get("args", ()),
            ]
        if contender.kind == "java":
            return java_command(
                "org.apache.kafka.tools.ShareConsumerPerformance",
                *("--bootstrap-server", self.bootstrap, "--topic", run["topic"]),
                *("--group", run["group"], "--num-records", str(run["target"])),
                *("--timeout", "30000", "--show-detailed-stats", "--reporting-interval", "100"),
            )
        return [sys.executable, "-m", "benchmarks.contenders"]

    def launch(self, contender: Contender, topic: str, target: int, budget: float, **extra):
        """Start ``contender`` on a fresh share group; returns (process, run spec)."""
        run = {
            "kind": contender.kind,
            "group": self.group(),
            "topic": topic,
            "bootstrap": self.bootstrap,
            "target": target,
            "budget": budget,
            "result": str(self.workdir / f"{uuid.uuid4().hex[:10]}.json"),
            **contender.options,
            **extra,
        }
        env = {
            **os.environ,
            "BENCH_RUN": json.dumps(run),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "DATABASE_URL": self.database_url,
        }
        env.pop("SHAREGROUPS_CLIENT", None)
        if contender.client:
            env["SHAREGROUPS_CLIENT"] = contender.client
        log = open(Path(run["result"]).with_suffix(".log"), "wb")  # noqa: SIM115
        process = subprocess.Popen(
            self.command(contender, run), cwd=ROOT, env=env, stdout=log, stderr=log
        )
        log.close()
        run["started"] = time.monotonic()
        return process, run

    def measure(
        self, contender: Contender, topic: str, target: int, budget: float, **extra
    ) -> Outcome:
        """Run ``contender`` until it consumed ``target`` records or spent ``budget`` seconds
        after its first record; RSS is sampled every second."""
        process, run = self.launch(contender, topic, target, budget, **extra)
        result = Path(run["result"])
        deadline = run["started"] + STARTUP_TIMEOUT + budget
        rss: list[tuple[float, int]] = []
        next_sample = 0.0
        try:
            while not result.exists() and process.poll() is None:
                now = time.monotonic()
                if now > deadline:
                    break
                if now >= next_sample:
                    rss.append((now - run["started"], rss_bytes(process.pid)))
                    next_sample = now + 1.0
                time.sleep(0.05)
        finally:
            code = stop(process)
        if contender.kind == "java":
            return java_outcome(run, code)
        outcome = read_outcome(run, code)
        if outcome.error:
            outcome.error += f"; log: {self.log_tail(run, 3)!r}"
        outcome.rss = rss
        return outcome

    def log_tail(self, run: dict, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            text = Path(run["result"]).with_suffix(".log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""


def default_adapter(bootstrap: str) -> str:
    """What the package chooses without ``SHAREGROUPS["CLIENT"]``, asked the package's way."""
    try:
        from django_sharegroups.clients.selection import native_unsupported_reason
    except ImportError:  # before the package chose by broker: confluent whenever Kafka is set
        return "confluent"
    return "confluent" if native_unsupported_reason({"bootstrap.servers": bootstrap}) else "native"


def record(n: int, **fields) -> bytes:
    """A JSON record of about 100 bytes: ``{"n": n, ...fields, "pad": "xx…"}``."""
    body = json.dumps({"n": n, **fields})[:-1]
    return (body + ', "pad": "' + "x" * max(0, RECORD_BYTES - len(body) - 12) + '"}').encode()


def stop(process: subprocess.Popen, timeout: float = 60.0) -> int:
    """SIGTERM (a graceful stop, as an orchestrator does), SIGKILL after ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
    return process.returncode


def rss_bytes(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def read_outcome(run: dict, code: int) -> Outcome:
    try:
        data = json.loads(Path(run["result"]).read_text())
    except (OSError, ValueError):
        return Outcome(error=f"no result (exit code {code})")
    outcome = Outcome(
        count=data["count"],
        seconds=data["seconds"],
        cpu=data["cpu"],
        samples=data["samples"],
        completions=data.get("completions"),
    )
    if data["first"] is not None:
        outcome.startup = data["first"] - run["started"]
    if not outcome.count:
        outcome.error = f"consumed nothing (exit code {code})"
    elif not outcome.seconds:
        outcome.error = f"no time between the first record and the last (exit code {code})"
    elif code not in (0, -signal.SIGTERM):
        outcome.error = f"exit code {code} after consuming"
    return outcome


_JAVA_LINE = re.compile(
    r"^(?P<start>[\d-]+ [\d:]+), (?P<end>[\d-]+ [\d:]+), "
    r"[\d.]+, [\d.]+, [\d.]+, (?P<count>\d+), \d+"
    r"(?P<detail> for share consumer \d+)?\s*$",
    re.M,
)


def java_outcome(run: dict, code: int) -> Outcome:
    """ShareConsumerPerformance with ``--show-detailed-stats`` prints a line per interval
    (``start, end, MB, MB/s, nMsg/s, nMsg so far, ms … for share consumer 1``) and a summary
    timed from before joining the group; like the Python contenders, Java is timed from its
    first line with records (the first interval, within 100 ms of its first poll that returned
    any) to the summary's end."""
    text = Path(run["result"]).with_suffix(".log").read_text(errors="replace")
    lines = list(_JAVA_LINE.finditer(text))
    first = next((m for m in lines if m["detail"] and int(m["count"])), None)
    summary = next((m for m in reversed(lines) if not m["detail"]), None)
    if code != 0 or first is None or summary is None:
        return Outcome(error=f"ShareConsumerPerformance failed (exit code {code})")
    count = int(summary["count"]) - int(first["count"])
    seconds = _java_time(summary["end"]) - _java_time(first["end"])
    startup = _java_time(first["end"]) - _java_time(lines[0]["start"])
    return Outcome(count=count, seconds=seconds or None, startup=startup)


def _java_time(text: str) -> float:
    """``2026-12-02 01:02:29:484`` (the tool's default date format) in seconds."""
    stamp, millis = text.rsplit(":", 1)
    return time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000
