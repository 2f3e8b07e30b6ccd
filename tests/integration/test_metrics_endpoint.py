"""Acceptance: scrape /metrics of a real ``manage.py runshareconsumers --metrics-port`` on
Kafka 4.4 and check the counters against what was produced, accepted, released and rejected,
the delivery counts against the redeliveries the consumer caused, and the per-partition SPSO
and lag read from the broker against the end offsets; the summary lines (one per second here)
add up to the same."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from django_sharegroups.kafka.admin import ShareGroupAdmin

from ..helpers import produce, wait_until

#: tests/fixtures/metrics_settings.py's SHAREGROUPS["SUMMARY_INTERVAL"] (seconds).
SUMMARY_INTERVAL = 1.0

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]


def free_port(following: int = 0) -> int:
    """A free port with ``following`` free ports after it (a supervisor's children serve on
    those), below the ephemeral range: there the supervisor's own outgoing connections (to
    the broker, to its children) could take a child's port before the child binds it."""
    while True:
        port = random.randrange(21000, 32000)
        try:
            for after in range(following + 1):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port + after))
        except OSError:
            continue
        return port


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
    """With ``--processes 2`` the supervisor's endpoint adds up its two children's and reads
    the offsets itself. The first record of each partition is released on its first
    delivery, so it is received twice."""
    total, half = 30, 15
    released = [n for n in range(total) if n % 15 == 0]
    name = share_topic(partitions=2)
    for number in (0, 1):
        payloads = ({"n": n} for n in range(number * half, (number + 1) * half))
        produce(kafka_bootstrap_servers, name, payloads, partition=number)
    port = free_port(following=processes)
    launched = time.monotonic()
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

    def partition(metric: str, number: int) -> float | None:
        labels = {"share_group": name, "topic": name, "partition": str(number)}
        return samples.get((metric, tuple(sorted(labels.items()))))

    running = (("share_group", name), ("state", "running"))

    def settled() -> bool:
        """Every record acknowledged, the broker's offsets read since (lag 0 on both
        partitions), and every process's listener running (with prefetch one process may
        take all the records while the other is still starting)."""
        samples.clear()
        samples.update(scrape(port))
        acked = (*group, ("topic", name))
        done = samples.get(("sharegroups_records_accepted_total", acked), 0)
        done += samples.get(("sharegroups_records_rejected_total", acked), 0)
        caught_up = all(partition("sharegroups_partition_lag", p) == 0 for p in (0, 1))
        started = samples.get(("sharegroups_listeners", running), 0) >= processes
        return (done >= total and caught_up and started) or process.poll() is not None

    def as_the_broker_says() -> bool:
        """The SPSO gauges equal what DescribeShareGroupOffsets answers now (Kafka 4.4 can
        report an SPSO below the end offset with lag 0 on an idle partition: docs/metrics.md)."""
        with ShareGroupAdmin({"bootstrap.servers": kafka_bootstrap_servers}) as admin:
            spso = {o.partition: o.start_offset for o in admin.share_group_offsets(name)}
        samples.clear()
        samples.update(scrape(port))
        gauges = {p: partition("sharegroups_partition_start_offset", p) for p in (0, 1)}
        # and a scrape that reached every child (one may miss the supervisor's 2 s timeout
        # on a loaded machine)
        running = samples.get(("sharegroups_listeners", (*group, ("state", "running"))), 0)
        return (gauges == spso and running == processes) or process.poll() is not None

    try:
        assert wait_until(settled, timeout=90)
        assert wait_until(as_the_broker_says, timeout=30)
        # Periodic summary lines come every SUMMARY_INTERVAL from each process's start: a run
        # that settles sooner (members get their partitions within 50 ms) has none yet.
        time.sleep(max(0.0, launched + 3 * SUMMARY_INTERVAL - time.monotonic()))
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert f"on http://127.0.0.1:{port}/metrics" in output

    def value(metric: str, **labels: str) -> float:
        return samples.get((metric, tuple(sorted({"share_group": name, **labels}.items()))), 0)

    assert value("sharegroups_records_received_total") == total + len(released)
    assert value("sharegroups_records_accepted_total", topic=name) == total // 2
    assert value("sharegroups_records_rejected_total", topic=name) == total // 2
    assert value("sharegroups_records_released_total", topic=name) == len(released)
    # Every received record by its delivery count: each released one came back as its 2nd.
    delivered = "sharegroups_received_delivery_count"
    assert value(f"{delivered}_bucket", le="1.0") == total
    assert value(f"{delivered}_bucket", le="2.0") == total + len(released)
    assert value(f"{delivered}_count") == total + len(released)
    assert value(f"{delivered}_sum") == total + 2 * len(released)
    for p in (0, 1):  # the broker's view, read by the process that serves /metrics
        assert partition("sharegroups_partition_end_offset", p) == half
        assert 0 <= partition("sharegroups_partition_start_offset", p) <= half
        assert partition("sharegroups_partition_lag", p) == 0
    assert not any(key[0] == "sharegroups_offsets_read_errors_total" for key in samples)
    assert value("sharegroups_records_archived_total", topic=name, reason="rejected") == total // 2
    assert value("sharegroups_final_delivery_count_count", outcome="archived") == total // 2
    jobs = value("sharegroups_job_duration_seconds_count", consumer="CountedConsumer")
    assert 1 <= jobs <= total + len(released)
    polls_with_records = value("sharegroups_poll_records_count") - value(
        "sharegroups_poll_records_bucket", le="0.0"
    )
    assert 1 <= polls_with_records <= total + len(released)
    assert value("sharegroups_poll_duration_seconds_count") >= polls_with_records
    assert value("sharegroups_poll_duration_seconds_sum") > 0
    assert value("sharegroups_poll_records_sum") == total + len(released)
    assert value("sharegroups_listeners", state="running") == processes
    assert value("sharegroups_listeners", state="failed") == 0
    assert value("sharegroups_lock_expiries_total", processed="true") == 0

    summary = re.compile(
        rf"{name}: (\d+) received \([\d.]+/s\), accepted (\d+), released (\d+), rejected (\d+), "
        r"archived (\d+), dead-lettered 0, lock expiries 0, errors 0 in the last \d+ s"
    )
    lines = [tuple(map(int, m.groups())) for m in summary.finditer(output)]
    assert len(lines) >= 2 * processes, output  # periodic lines and the one at shutdown
    if processes > 1:
        return  # the supervisor's output interleaves its children's lines
    assert [sum(column) for column in zip(*lines, strict=True)] == [
        total + len(released),
        total // 2,
        len(released),
        total // 2,
        total // 2,
    ]
