"""SIGTERM to a real ``manage.py runshareconsumers``: running jobs finish and nothing is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..helpers import kafka_settled, produce, wait_until

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
SHUTDOWN_TIMEOUT = 15


def start_consumers(
    bootstrap: str,
    topic: str,
    log: Path,
    seconds: float = 0.4,
    shutdown_timeout: float = 15,
    client: str = "confluent",
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.fixtures.slow_settings",
        "SHAREGROUPS_CLIENT": client,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SLOW_JOB_TOPIC": topic,
        "SLOW_JOB_LOG": str(log),
        "SLOW_JOB_SECONDS": str(seconds),
        "SLOW_SHUTDOWN_TIMEOUT": str(shutdown_timeout),
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "runshareconsumers", "--group", topic],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def logged(log: Path, what: str) -> list[tuple[int, int]]:
    if not log.exists():
        return []
    lines = (line.split() for line in log.read_text().splitlines())
    return [(int(p), int(o)) for kind, p, o in lines if kind == what]


def accepted(log: Path) -> list[tuple[int, int]]:
    return logged(log, "done")


def stop(process: subprocess.Popen) -> tuple[int, float, str]:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=SHUTDOWN_TIMEOUT + 10)
    return process.returncode, time.monotonic() - started, output


@pytest.mark.parametrize("client", ["confluent", "native"])
def test_sigterm_finishes_running_jobs_and_a_restart_consumes_the_rest(
    kafka_bootstrap_servers, share_topic, tmp_path, client
):
    total = 40
    name = share_topic(partitions=2)
    produce(kafka_bootstrap_servers, name, ({"n": i} for i in range(total)))
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"

    first = start_consumers(kafka_bootstrap_servers, name, first_log, client=client)
    assert wait_until(lambda: len(accepted(first_log)) >= 4, timeout=60), first.poll()
    code, seconds, output = stop(first)
    assert code == 0, output
    assert seconds < SHUTDOWN_TIMEOUT, output
    assert "Shutdown: {'clean': True" in output, output
    first_run = accepted(first_log)
    assert 4 <= len(first_run) < total

    second = start_consumers(kafka_bootstrap_servers, name, second_log, client=client)
    try:
        assert wait_until(
            lambda: len(first_run) + len(accepted(second_log)) >= total, timeout=90
        ), second.poll()
        assert wait_until(lambda: kafka_settled(kafka_bootstrap_servers, name), timeout=30)
    finally:
        code, _, output = stop(second)
    assert code == 0, output
    second_run = accepted(second_log)
    assert not set(first_run) & set(second_run), "accepted records were delivered again"
    assert len(set(first_run)) == len(first_run) and len(set(second_run)) == len(second_run)
    assert len(set(first_run) | set(second_run)) == total


def test_a_second_sigterm_exits_at_once_and_reports_the_running_jobs(
    kafka_bootstrap_servers, share_topic, tmp_path
):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, ({"n": i} for i in range(3)))
    log = tmp_path / "jobs.log"
    process = start_consumers(kafka_bootstrap_servers, name, log, seconds=20)
    assert wait_until(lambda: logged(log, "start"), timeout=60), process.poll()
    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    code, seconds, output = stop(process)  # the second SIGTERM
    assert code == 2, output
    assert seconds < 15, output  # at once: not after the 20 s job (margin for a loaded machine)
    assert "SIGTERM received again: exiting now; still running:" in output
    assert f"SlowConsumer({name}[0]@0)" in output
    assert accepted(log) == []


def test_the_shutdown_timeout_bounds_a_stop_and_reports_what_still_ran(
    kafka_bootstrap_servers, share_topic, tmp_path
):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, [{"n": 0}])
    log = tmp_path / "jobs.log"
    process = start_consumers(kafka_bootstrap_servers, name, log, seconds=20, shutdown_timeout=1)
    assert wait_until(lambda: logged(log, "start"), timeout=60), process.poll()
    code, seconds, output = stop(process)
    assert code == 2, output
    assert seconds < 15, output  # the 1 s timeout, not the 20 s job (margin for a loaded machine)
    assert "Shutdown: {'clean': False, 'still_running': [" in output
    assert f"SlowConsumer({name}[0]@0)" in output


def test_sigtstp_stops_polling_finishes_jobs_and_keeps_the_process_up(
    kafka_bootstrap_servers, share_topic, tmp_path
):
    name = share_topic()
    produce(kafka_bootstrap_servers, name, ({"n": i} for i in range(2)))
    log = tmp_path / "jobs.log"
    process = start_consumers(kafka_bootstrap_servers, name, log, seconds=1)
    try:
        assert wait_until(lambda: logged(log, "start"), timeout=60), process.poll()
        process.send_signal(signal.SIGTSTP)
        # the running job finishes and is accepted; nothing new starts
        assert wait_until(lambda: accepted(log), timeout=60)
        started = logged(log, "start")
        time.sleep(2)
        assert process.poll() is None
        assert logged(log, "start") == started
    finally:
        code, _, output = stop(process)
    assert code == 0, output
    assert "quiet mode" in output
    assert sorted(accepted(log)) == sorted(started)
