"""The newcomer's first command: ``runshareconsumers --demo`` on the in-memory broker."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_shows_the_share_group_life_cycle_and_stops_cleanly():
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runshareconsumers", "--demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(4)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "order 0 processed" in output
    assert "releasing order 5 (delivery 1)" in output
    assert "releasing order 5 (delivery 3)" in output
    assert "after 3 delivery(ies): DELIVERY_COUNT_EXCEEDED" in output
    assert "no order_id" in output
    assert "after 1 delivery(ies): REJECTED" in output
    assert "Shutdown: {'clean': True" in output


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
