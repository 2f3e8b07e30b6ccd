"""Helpers for tests that run ``manage.py runshareconsumers --processes N`` against Kafka."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Producer

from ..helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
#: Children start in a few seconds; on a loaded 2-core machine it can take much longer.
START_TIMEOUT = 180


class Supervised:
    """A ``runshareconsumers --processes N --probe 127.0.0.1:0`` subprocess and its output."""

    def __init__(self, bootstrap: str, topic: str, log: Path, processes: int, **env) -> None:
        self.log = log
        self.lines: list[str] = []
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.fixtures.processes_settings",
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "PROCESSES_TOPIC": topic,
            "PROCESSES_LOG": str(log),
            **{key: str(value) for key, value in env.items()},
        }
        command = ["manage.py", "runshareconsumers", "--group", topic]
        command += ["--processes", str(processes), "--probe", "127.0.0.1:0"]
        self.process = subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def probe_url(self) -> str:
        found = wait_for(lambda: re.search(r"probe: (http://\S+/)", self.output), timeout=60)
        return found.group(1)

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.probe_url() + path.lstrip("/"), timeout=10) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def status(self) -> dict:
        return self.get("/status")[1]

    def wait_ready(self) -> dict:
        """Every child consuming, by the probe's own answer."""
        assert self.process.poll() is None, self.output
        return wait_for(
            lambda: self.get("/ready")[0] == 200 and self.status(),
            timeout=START_TIMEOUT,
            interval=0.5,
        )

    def child_pids(self) -> list[int]:
        return [child["pid"] for child in self.status()["children"]]

    def stop(self, signum: int | None = signal.SIGTERM, timeout: float = 120) -> int:
        """Send ``signum`` (None: none, just wait) and return the exit code."""
        if signum is not None and self.process.poll() is None:
            self.process.send_signal(signum)
        self.process.wait(timeout)
        self.reader.join(10)
        return self.process.returncode

    def kill_everything(self) -> None:
        """Teardown after a failed test: nothing may outlive it."""
        if self.process.poll() is not None:
            return
        pids = []
        try:
            pids = [pid for pid in self.child_pids() if pid]
        except Exception:  # noqa: BLE001 - best effort
            pass
        for pid in [self.process.pid, *pids]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(30)


@pytest.fixture
def supervised(kafka_bootstrap_servers, tmp_path):
    """``supervised(topic, processes, **env)`` starts a supervisor; all are stopped after."""
    started: list[Supervised] = []

    def start(topic: str, processes: int, log_name: str = "accepted.log", **env) -> Supervised:
        started.append(
            Supervised(kafka_bootstrap_servers, topic, tmp_path / log_name, processes, **env)
        )
        return started[-1]

    yield start
    for supervisor in started:
        supervisor.kill_everything()


def produce_spread(bootstrap: str, topic: str, count: int, partitions: int, **payload) -> None:
    """``count`` records ``{"n": n}`` over every partition in turn, each in a batch of its own
    (a keyless producer would put a burst into one partition, and a share-group member
    acquires whole batches: one member could take everything)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for n in range(count):
        producer.produce(topic, json.dumps({"n": n, **payload}).encode(), partition=n % partitions)
        assert producer.flush(30) == 0


def accepted(log: Path) -> list[tuple[int, int, int, int]]:
    """``(partition, offset, pid, process index)`` of every record the consumers accepted."""
    if not log.exists():
        return []
    rows = []
    for line in log.read_text().splitlines():
        _, partition, offset, pid, index, _ = line.split()
        rows.append((int(partition), int(offset), int(pid), int(index)))
    return rows


def coordinates(rows) -> Counter:
    return Counter((partition, offset) for partition, offset, *_ in rows)
