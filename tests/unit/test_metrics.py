"""The Prometheus exporter and the summary lines, fed by events on a bus of their own."""

from __future__ import annotations

import logging
import socket
import threading
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.exceptions import ConfigurationError
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.instrumentation.counts import EventCounts
from django_sharegroups.instrumentation.prometheus import ShareGroupsMetrics, start_exporter
from django_sharegroups.instrumentation.summary import SummaryLogger
from django_sharegroups.runtime.metrics_endpoint import serve_metrics


def publish_a_run(bus: EventBus) -> None:
    bus.publish("poll", share_group="orders", records=5, asked=10)
    bus.publish("poll", share_group="orders", records=0, asked=10)
    bus.publish("job.started", share_group="orders", consumer="C", size=5)
    bus.publish("job.finished", share_group="orders", consumer="C", size=5, acknowledgements={})
    bus.publish("acks.sent", share_group="orders", counts={"ACCEPT": 3, "RELEASE": 1, "REJECT": 1})
    bus.publish(
        "record.archived",
        share_group="orders",
        topic="orders",
        partition=0,
        offset=4,
        delivery_count=5,
        reason="rejected",
        error=None,
    )
    bus.publish(
        "lock.expired", share_group="orders", consumer="C", record="orders[0]@2", processed=True
    )
    bus.publish("job.started", share_group="orders", consumer="C", size=1)
    bus.publish(
        "job.errored",
        share_group="orders",
        consumer="C",
        records="orders[0]@5",
        released=1,
        rejected=0,
        exception=ValueError("x"),
    )


def test_events_become_metrics_with_the_group_and_reason_labels():
    bus, metrics = EventBus(), ShareGroupsMetrics()
    metrics.subscribe(bus)
    publish_a_run(bus)
    value = metrics.registry.get_sample_value
    group = {"share_group": "orders"}
    assert value("sharegroups_records_received_total", group) == 5
    assert value("sharegroups_records_accepted_total", group) == 3
    assert value("sharegroups_records_released_total", group) == 1
    assert value("sharegroups_records_rejected_total", group) == 1
    archived = {**group, "topic": "orders", "reason": "rejected"}
    assert value("sharegroups_records_archived_total", archived) == 1
    assert (
        value(
            "sharegroups_final_delivery_count_bucket", {**group, "outcome": "archived", "le": "4.0"}
        )
        == 0
    )
    assert (
        value(
            "sharegroups_final_delivery_count_bucket", {**group, "outcome": "archived", "le": "5.0"}
        )
        == 1
    )
    assert value("sharegroups_lock_expiries_total", {**group, "processed": "true"}) == 1
    assert value("sharegroups_poll_records_count", group) == 2
    assert value("sharegroups_job_duration_seconds_count", {**group, "consumer": "C"}) == 2
    assert value("sharegroups_job_errors_total", {**group, "consumer": "C"}) == 1


def test_the_exporter_listens_only_to_the_events_it_maps():
    bus = EventBus()
    ShareGroupsMetrics().subscribe(bus)
    assert "*" not in bus._listeners
    assert "job.unacknowledged" not in bus._listeners


def test_the_endpoint_serves_on_loopback_and_a_taken_port_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bus = EventBus()
    start_exporter(port, bus=bus)
    bus.publish("poll", share_group="orders", records=2, asked=2)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
    assert families["sharegroups_records_received"].samples[0].value == 2
    with pytest.raises(ConfigurationError, match=f"Cannot serve metrics on 127.0.0.1:{port}"):
        serve_metrics(port, ShareGroupsSettings(client="memory"), EventCounts())


def test_the_summary_logs_one_line_per_group_per_window(caplog):
    bus, counts = EventBus(), EventCounts()
    counts.subscribe(bus)
    summary = SummaryLogger(counts, 60, groups=["orders", "idle"])
    publish_a_run(bus)
    with caplog.at_level(logging.INFO, logger="django_sharegroups.summary"):
        first = summary.flush()
        second = summary.flush()
    assert [line.split(":")[0] for line in first] == ["orders", "idle"]
    assert first[0].startswith("orders: 5 received (")
    assert (
        "accepted 3, released 1, rejected 1, archived 1, dead-lettered 0, lock expiries 1, errors 1"
        in first[0]
    )
    assert "accepted 0, released 0" in first[1]
    assert second[0].startswith("orders: 0 received")
    assert [r.getMessage() for r in caplog.records] == first + second


def test_counts_from_many_threads_add_up_exactly():
    bus, counts = EventBus(), EventCounts()
    counts.subscribe(bus)
    errors: list[BaseException] = []

    def publish() -> None:
        try:
            for _ in range(2000):
                bus.publish("acks.sent", share_group="orders", counts={"ACCEPT": 1})
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=publish) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert counts.snapshot()[("records_accepted", ("orders",))] == 16000
