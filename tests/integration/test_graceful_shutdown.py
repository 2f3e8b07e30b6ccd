"""SIGTERM to a real ``manage.py runshareconsumers``: running jobs finish and nothing is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import produce_json, wait_until

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
SHUTDOWN_TIMEOUT = 15


def start_consumers(bootstrap: str, topic: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.fixtures.slow_settings",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SLOW_JOB_TOPIC": topic,
        "SLOW_JOB_LOG": str(log),
        "SLOW_JOB_SECONDS": "0.4",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "runshareconsumers", "--group", topic],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def accepted(log: Path) -> list[tuple[int, int]]:
    if not log.exists():
        return []
    return [tuple(map(int, line.split())) for line in log.read_text().splitlines()]


def stop(process: subprocess.Popen) -> tuple[int, float, str]:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=SHUTDOWN_TIMEOUT + 10)
    return process.returncode, time.monotonic() - started, output


def test_sigterm_finishes_running_jobs_and_a_restart_consumes_the_rest(
    kafka_bootstrap_servers, share_topic, tmp_path
):
    total = 40
    name = share_topic(partitions=2)
    produce_json(kafka_bootstrap_servers, name, ({"n": i} for i in range(total)))
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"

    first = start_consumers(kafka_bootstrap_servers, name, first_log)
    assert wait_until(lambda: len(accepted(first_log)) >= 4, timeout=60), first.poll()
    code, seconds, output = stop(first)
    assert code == 0, output
    assert seconds < SHUTDOWN_TIMEOUT, output
    assert "Shutdown: {'clean': True" in output, output
    first_run = accepted(first_log)
    assert 4 <= len(first_run) < total

    second = start_consumers(kafka_bootstrap_servers, name, second_log)
    try:
        assert wait_until(
            lambda: len(first_run) + len(accepted(second_log)) >= total, timeout=90
        ), second.poll()
        time.sleep(2)  # a record accepted by the first run and redelivered would appear now
    finally:
        code, _, output = stop(second)
    assert code == 0, output
    second_run = accepted(second_log)
    assert not set(first_run) & set(second_run), "accepted records were delivered again"
    assert len(set(first_run)) == len(first_run) and len(set(second_run)) == len(second_run)
    assert len(set(first_run) | set(second_run)) == total
