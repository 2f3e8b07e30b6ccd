"""Acceptance: scrape /metrics of a real ``manage.py runshareconsumers --metrics-port`` on
Kafka 4.4 and check the counters against what was produced, accepted and rejected; the
summary lines (one per second here) add up to the same."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ..helpers import produce, wait_until

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """Samples by (name, sorted labels); empty while the endpoint is not up yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return {}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.parametrize(("client", "processes"), [("native", 1), ("confluent", 1), ("native", 2)])
def test_metrics_count_what_was_produced_accepted_and_rejected(
    kafka_bootstrap_servers, share_topic, client, processes
):
    """With ``--processes 2`` the supervisor's endpoint adds up its two children's."""
    total = 30
    name = share_topic(partitions=2)
    produce(kafka_bootstrap_servers, name, ({"n": n} for n in range(total)))
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "manage.py", "runshareconsumers", "--metrics-port", str(port)),
            *(("--processes", str(processes)) if processes > 1 else ()),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.fixtures.metrics_settings",
            "SHAREGROUPS_CLIENT": client,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
            "METRICS_TOPIC": name,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    group = (("share_group", name),)
    samples: dict = {}

    def settled() -> bool:
        samples.update(scrape(port))
        done = samples.get(("sharegroups_records_accepted_total", group), 0)
        done += samples.get(("sharegroups_records_rejected_total", group), 0)
        return done >= total or process.poll() is not None

    try:
        assert wait_until(settled, timeout=90)
        samples.clear()
        samples.update(scrape(port))
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert f"on http://127.0.0.1:{port}/metrics" in output

    def value(metric: str, **labels: str) -> float:
        return samples.get((metric, tuple(sorted({"share_group": name, **labels}.items()))), 0)

    assert value("sharegroups_records_received_total") == total
    assert value("sharegroups_records_accepted_total") == total // 2
    assert value("sharegroups_records_rejected_total") == total // 2
    assert value("sharegroups_records_released_total") == 0
    assert value("sharegroups_records_archived_total", topic=name, reason="rejected") == total // 2
    assert value("sharegroups_final_delivery_count_count", outcome="archived") == total // 2
    jobs = value("sharegroups_job_duration_seconds_count", consumer="CountedConsumer")
    assert 1 <= jobs <= total
    polls_with_records = value("sharegroups_poll_records_count") - value(
        "sharegroups_poll_records_bucket", le="0.0"
    )
    assert 1 <= polls_with_records <= total
    assert value("sharegroups_poll_records_sum") == total
    assert value("sharegroups_listeners", state="running") == processes
    assert value("sharegroups_listeners", state="failed") == 0
    assert value("sharegroups_lock_expiries_total", processed="true") == 0

    summary = re.compile(
        rf"{name}: (\d+) received \([\d.]+/s\), accepted (\d+), released 0, rejected (\d+), "
        r"archived (\d+), dead-lettered 0, lock expiries 0, errors 0 in the last \d+ s"
    )
    lines = [tuple(map(int, m.groups())) for m in summary.finditer(output)]
    assert len(lines) >= 2 * processes, output  # periodic lines and the one at shutdown
    if processes > 1:
        return  # the supervisor's output interleaves its children's lines
    assert [sum(column) for column in zip(*lines, strict=True)] == [
        total,
        total // 2,
        total // 2,
        total // 2,
    ]
