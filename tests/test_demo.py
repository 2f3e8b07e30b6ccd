"""The newcomer's first command: ``runshareconsumers --demo`` on the in-memory broker."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]

#: What the demo prints once every record reached its end (the last one needs three deliveries).
LIFE_CYCLE = (
    "order 0 processed",
    "releasing order 5 (delivery 1)",
    "releasing order 5 (delivery 3)",
    "after 3 delivery(ies): DELIVERY_COUNT_EXCEEDED",
    "no order_id",
    "after 1 delivery(ies): REJECTED",
)


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
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: all(any(want in line for line in lines) for want in LIFE_CYCLE), 60)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=10)
    output = "".join(lines)
    assert process.returncode == 0, output
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
