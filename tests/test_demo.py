"""The newcomer's first command: ``runshareconsumers --demo`` on the in-memory broker."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> str:
    """The example project's tables in a fresh SQLite file, as the README's setup makes them."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'example.sqlite3'}"
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env=_demo_env(url),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert migrated.returncode == 0, migrated.stderr
    return url


def _demo_env(database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS",)}
    env["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def test_scripted_demo_shows_the_life_cycle_and_exits_when_done(database):
    """One round settles: the quick start's five records (3 accepted, 1 released until
    archived, 1 rejected) and the shop's (orders stored and indexed, webhooks retried with
    growing delays or dead-lettered, a customer's events in order)."""
    result = subprocess.run(
        [sys.executable, "manage.py", "runshareconsumers", "--demo", "--records", "13"]
        + ["--exit-when-done"],
        cwd=ROOT,
        env=_demo_env(database),
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
    assert "all 13 record(s) settled; stopping" in output
    assert "Shutdown: {'clean': True" in output
    assert "webhook for order 1001 failed" in output and "retry in 400 ms" in output
    assert "shop-webhooks[2]@0 sent to shop-webhooks-dlq" in output
    # Each archive is told once, by the runtime's poison-record observer.
    assert output.count("broker archives example-orders") == 2, output
    assert "(delivery_limit, delivery 3)" in output
    assert "(rejected, delivery 1)" in output
    assert "broker archived" not in output
    rows = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", SHOP_ROWS],
        cwd=ROOT,
        env=_demo_env(database),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rows.stdout.split() == ["orders=2", "indexed=2", "webhooks=2", "events=3"], rows


SHOP_ROWS = """
from example_project.shop.models import CustomerEvent, Order, WebhookDelivery
print(f"orders={Order.objects.count()}")
print(f"indexed={Order.objects.filter(indexed_at__isnull=False).count()}")
print(f"webhooks={WebhookDelivery.objects.count()}")
print(f"events={CustomerEvent.objects.count()}")
"""


def test_demo_runs_until_sigterm_and_stops_cleanly(database):
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runshareconsumers", "--demo"],
        cwd=ROOT,
        env=_demo_env(database),
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
