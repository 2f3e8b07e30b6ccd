"""The ledger fault run: unique records through ``runshareconsumers`` processes that get killed.

Used by tests/faults/test_ledger.py, sized for CI by default; ``LEDGER_RECORDS`` makes the
long run documented in docs/dead-letters.md. Every record carries a unique id; the
consumer (tests/fixtures/ledger_app) writes one Effect row per record it accepts, idempotently.
At the end each record must have exactly one Effect row or a DeadLetter row with a reason.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HOLD = b'"hold"'
DELIVERY_LIMIT = 3
LOCK_DURATION_MS = 5000


@dataclass
class LedgerRun:
    """Supervises consumer processes of one group: start, SIGKILL, restart."""

    name: str
    adapter: str
    kafka: dict
    database_url: str
    workdir: Path
    concurrency: int = 2
    processes: list[subprocess.Popen] = field(default_factory=list)
    kills: int = 0
    exits: list[int] = field(default_factory=list)

    @property
    def hold_file(self) -> Path:
        return self.workdir / f"{self.name}.hold"

    def env(self) -> dict[str, str]:
        from .helpers import ledger_env

        return ledger_env(
            self.kafka,
            LEDGER_CLIENT=self.adapter,
            LEDGER_GROUP=self.name,
            LEDGER_TOPIC=self.name,
            LEDGER_CONCURRENCY=str(self.concurrency),
            LEDGER_HOLD=HOLD.decode(),
            LEDGER_HOLD_FILE=str(self.hold_file),
            LEDGER_DELIVERY_LIMIT=str(DELIVERY_LIMIT),
            LEDGER_DATABASE_URL=self.database_url,
        )

    def start(self) -> subprocess.Popen:
        from .helpers import start_manage

        log = self.workdir / f"{self.name}-{len(self.processes)}.log"
        process = start_manage("runshareconsumers", "--group", self.name, env=self.env(), log=log)
        self.processes.append(process)
        return process

    @property
    def current(self) -> subprocess.Popen | None:
        return self.processes[-1] if self.processes else None

    def ensure_running(self) -> None:
        """Restart the consumers if the current process ended (it may not survive an outage)."""
        process = self.current
        if process is None or process.poll() is not None:
            if process is not None:
                self.exits.append(process.returncode)
            self.start()

    def kill(self) -> None:
        process = self.current
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            self.kills += 1

    def kill_all(self) -> None:
        """Leave no child behind, whatever ended the test (a timeout included)."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(30)

    def stop(self) -> int | None:
        process = self.current
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        return process.wait(60)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-3000:]}"
            for path in sorted(self.workdir.glob(f"{self.name}-*.log"))
        )


def produce_ledger(bootstrap: str, topic: str, ids: range | None, hold: bool = False) -> dict:
    """Produce records ``"id-N"`` for ``ids`` (or the held record alone); returns
    ``{(partition, offset): value}`` from the delivery reports."""
    from confluent_kafka import Producer

    placed: dict[tuple[int, int], str] = {}

    def delivered(error, message) -> None:
        assert error is None, error
        placed[(message.partition(), message.offset())] = json.loads(message.value())

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all"})
    if hold:
        producer.produce(topic, HOLD, key=b"hold", on_delivery=delivered)
    for number in ids or ():
        value = json.dumps(f"id-{number}").encode()
        while True:
            try:
                producer.produce(topic, value, key=str(number).encode(), on_delivery=delivered)
                break
            except BufferError:  # the long runs outgrow the producer's queue: let it drain
                producer.poll(0.1)
        if number % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0
    return placed


def wait_for(
    condition: Callable[[], object], timeout: float, what: str, tick=None, interval: float = 0.25
) -> None:
    """Check ``condition`` every ``interval`` seconds (the long runs check less often: a
    count over a million Effect rows is work the database would otherwise not do)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        if tick is not None:
            tick()
        time.sleep(interval)
