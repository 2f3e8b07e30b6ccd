"""The newcomer's first command: ``runshareconsumers --demo`` on the in-memory broker."""

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _demo_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    return env


def test_scripted_demo_shows_the_life_cycle_and_exits_when_done():
    """One round (5 records) settles: 3 accepted, 1 released until archived, 1 rejected."""
    result = subprocess.run(
        [sys.executable, "manage.py", "runshareconsumers", "--demo", "--records", "5"]
        + ["--exit-when-done"],
        cwd=ROOT,
        env=_demo_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "delivery-count limit 3 (Kafka's default is 5" in output
    assert "http://127.0.0.1:8000/admin/django_sharegroups/" in output
    for n in range(3):
        assert f"order {n} processed" in output
    assert "releasing order 5 (delivery 1)" in output
    assert "releasing order 5 (delivery 3)" in output
    assert "no order_id" in output
    assert "all 5 record(s) settled; stopping" in output
    assert "Shutdown: {'clean': True" in output
    # Each archive is told once, by the runtime's poison-record observer.
    assert output.count("broker archives") == 2, output
    assert "(delivery_limit, delivery 3)" in output
    assert "(rejected, delivery 1)" in output
    assert "broker archived" not in output


def test_demo_runs_until_sigterm_and_stops_cleanly():
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runshareconsumers", "--demo"],
        cwd=ROOT,
        env=_demo_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:  # wait for a condition, not a fixed time
        seen.append(line)
        if "order 0 processed" in line:
            break
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=60)
    output = "".join(seen) + rest
    assert process.returncode == 0, output
    assert "order 0 processed" in output
    assert "Shutdown: {'clean': True" in output


def test_exit_when_done_needs_records():
    result = subprocess.run(
        [sys.executable, "manage.py", "runshareconsumers", "--demo", "--exit-when-done"],
        cwd=ROOT,
        env=_demo_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "--exit-when-done needs --records N" in result.stderr


def test_demo_refuses_a_real_kafka():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings"}
    env["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:1"
    result = subprocess.run(
        [sys.executable, "manage.py", "runshareconsumers", "--demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "--demo runs on the in-memory broker" in result.stderr
