"""The Prometheus exporter and the summary lines, fed by events on a bus of their own."""

from __future__ import annotations

import logging
import socket
import threading
import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.exceptions import ConfigurationError
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.instrumentation.counts import EventCounts
from django_sharegroups.instrumentation.offsets import OffsetsReader
from django_sharegroups.instrumentation.prometheus import (
    OffsetsCollector,
    ShareGroupsMetrics,
    start_exporter,
)
from django_sharegroups.instrumentation.summary import SummaryLogger
from django_sharegroups.kafka.errors import GroupIdNotFoundError, KafkaConnectionError
from django_sharegroups.kafka.results import SharePartitionOffsets
from django_sharegroups.runtime.metrics_endpoint import serve_metrics


def poll(bus: EventBus, records: int, seconds: float = 0.003, **delivery_counts: int) -> None:
    """A ``poll`` event; ``delivery_counts`` as ``d2=1`` (one record on its 2nd delivery)."""
    counts = {int(k[1:]): v for k, v in delivery_counts.items()} or (
        {1: records} if records else {}
    )
    bus.publish(
        "poll",
        share_group="orders",
        records=records,
        asked=10,
        seconds=seconds,
        delivery_counts=counts,
    )


def publish_a_run(bus: EventBus) -> None:
    poll(bus, 5, 0.003, d1=3, d2=1, d5=1)
    poll(bus, 0, 0.5)
    bus.publish("job.started", share_group="orders", consumer="C", size=5)
    bus.publish(
        "job.finished", share_group="orders", consumer="C", size=5, acknowledgements={}, seconds=0.1
    )  # not counted: the settler reports every job's duration in jobs.timed
    bus.publish(
        "acks.sent",
        share_group="orders",
        topic="orders",
        counts={"ACCEPT": 3, "RELEASE": 1, "REJECT": 1},
    )
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
        seconds=0.02,
    )
    bus.publish("jobs.timed", share_group="orders", consumer="C", seconds=[0.1, 0.02])


def test_events_become_metrics_with_the_group_and_reason_labels():
    bus, metrics = EventBus(), ShareGroupsMetrics()
    metrics.subscribe(bus)
    publish_a_run(bus)
    value = metrics.registry.get_sample_value
    group = {"share_group": "orders"}
    assert value("sharegroups_records_received_total", group) == 5
    settled = {**group, "topic": "orders"}
    assert value("sharegroups_records_accepted_total", settled) == 3
    assert value("sharegroups_records_released_total", settled) == 1
    assert value("sharegroups_records_rejected_total", settled) == 1
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
    assert value("sharegroups_poll_duration_seconds_count", group) == 2
    assert value("sharegroups_poll_duration_seconds_sum", group) == pytest.approx(0.503)
    assert value("sharegroups_poll_duration_seconds_bucket", {**group, "le": "0.005"}) == 1
    assert value("sharegroups_poll_duration_seconds_bucket", {**group, "le": "0.5"}) == 2
    delivered = "sharegroups_received_delivery_count"
    assert value(f"{delivered}_count", group) == 5  # per record, not per poll
    assert value(f"{delivered}_sum", group) == 3 + 2 + 5
    assert value(f"{delivered}_bucket", {**group, "le": "1.0"}) == 3
    assert value(f"{delivered}_bucket", {**group, "le": "2.0"}) == 4
    assert value(f"{delivered}_bucket", {**group, "le": "4.0"}) == 4
    assert value(f"{delivered}_bucket", {**group, "le": "+Inf"}) == 5
    job = {**group, "consumer": "C"}
    assert value("sharegroups_job_duration_seconds_count", job) == 2  # from jobs.timed
    assert value("sharegroups_job_duration_seconds_sum", job) == pytest.approx(0.12)
    assert value("sharegroups_job_duration_seconds_bucket", {**job, "le": "0.01"}) == 0
    assert value("sharegroups_job_duration_seconds_bucket", {**job, "le": "0.025"}) == 1
    assert value("sharegroups_job_duration_seconds_bucket", {**job, "le": "0.1"}) == 2
    assert value("sharegroups_job_errors_total", {**group, "consumer": "C"}) == 1


def test_the_exporter_listens_only_to_the_events_it_maps():
    bus = EventBus()
    ShareGroupsMetrics().subscribe(bus)
    assert bus.listeners("*") == ()
    assert bus.listeners("job.unacknowledged") == ()
    assert bus.listeners("poll"), "and it does listen to what it maps"


def test_the_endpoint_serves_on_loopback_and_a_taken_port_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bus = EventBus()
    start_exporter(port, bus=bus)
    poll(bus, 2)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
    assert families["sharegroups_records_received"].samples[0].value == 2
    with pytest.raises(ConfigurationError, match=f"Cannot serve metrics on 127.0.0.1:{port}"):
        serve_metrics(port, ShareGroupsSettings(client="memory"), EventCounts(), ["orders"])


def test_the_summary_logs_one_line_per_group_per_window(caplog):
    bus, counts = EventBus(), EventCounts()
    counts.subscribe(bus)
    summary = SummaryLogger(counts, 60, groups=["orders", "idle"])
    publish_a_run(bus)
    with caplog.at_level(logging.INFO, logger="django_sharegroups.summary"):
        first = summary.flush()
        second = summary.flush()
        third = summary.flush()  # each window subtracts the totals, not the last window's lines
    assert [line.split(":")[0] for line in first] == ["orders", "idle"]
    assert first[0].startswith("orders: 5 received (")
    assert (
        "accepted 3, released 1, rejected 1, archived 1, dead-lettered 0, lock expiries 1, errors 1"
        in first[0]
    )
    assert "accepted 0, released 0" in first[1]
    assert second[0].startswith("orders: 0 received")
    assert third[0].startswith("orders: 0 received") and "accepted 0," in third[0]
    assert [r.getMessage() for r in caplog.records] == first + second + third


def test_counts_from_many_threads_add_up_exactly():
    bus, counts = EventBus(), EventCounts()
    counts.subscribe(bus)
    errors: list[BaseException] = []

    def publish() -> None:
        try:
            for _ in range(2000):
                bus.publish("acks.sent", share_group="orders", topic="t", counts={"ACCEPT": 1})
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=publish) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert counts.snapshot()[("records_accepted", ("orders", "t"))] == 16000


def test_a_poll_event_carries_its_duration_and_records_per_delivery_count():
    from django_sharegroups.clients.base import ReceivedRecord
    from django_sharegroups.runtime.poller import delivery_counts

    records = [ReceivedRecord("t", 0, n, None, b"", delivery_count=1 + n % 3) for n in range(7)]
    assert delivery_counts(records) == {1: 3, 2: 2, 3: 2}
    assert delivery_counts([]) == {}
    assert delivery_counts(records[::3]) == {1: 3}  # first deliveries only
    assert delivery_counts([records[1]]) == {2: 1}


def offsets(topic: str, *lags: int) -> list[SharePartitionOffsets]:
    return [
        SharePartitionOffsets(topic, partition, 100 - lag, 100, lag)
        for partition, lag in enumerate(lags)
    ]


def test_broker_offsets_become_per_partition_gauges_and_failed_reads_a_counter(caplog):
    answers: dict[str, list] = {
        "orders": [
            offsets("orders", 5, 0),
            KafkaConnectionError("refused"),
            KafkaConnectionError("refused"),
            offsets("orders", 0),
        ],
        "fresh": [GroupIdNotFoundError("no such group")] * 4,
    }

    def source(group: str) -> list[SharePartitionOffsets]:
        answer = answers[group].pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    reader = OffsetsReader(["orders", "fresh"], 30, source=source)
    registry = CollectorRegistry()
    registry.register(OffsetsCollector(reader))
    value = registry.get_sample_value
    where = {"share_group": "orders", "topic": "orders"}

    reader.read_all()
    assert value("sharegroups_partition_lag", {**where, "partition": "0"}) == 5
    assert value("sharegroups_partition_lag", {**where, "partition": "1"}) == 0
    assert value("sharegroups_partition_start_offset", {**where, "partition": "0"}) == 95
    assert value("sharegroups_partition_end_offset", {**where, "partition": "1"}) == 100
    assert value("sharegroups_partition_lag", {"share_group": "fresh"}) is None  # not joined

    with caplog.at_level(logging.INFO, logger="django_sharegroups.metrics"):
        reader.read_all()  # the broker refuses: the gauges go, the error is counted
        reader.read_all()  # and again, in the same episode: no second warning
    errors = {"share_group": "orders", "error": "KafkaConnectionError"}
    assert value("sharegroups_offsets_read_errors_total", errors) == 2
    assert value("sharegroups_partition_lag", {**where, "partition": "0"}) is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "refused" in warnings[0].getMessage()

    with caplog.at_level(logging.INFO, logger="django_sharegroups.metrics"):
        reader.read_all()  # works again: one line says so
    assert value("sharegroups_partition_lag", {**where, "partition": "0"}) == 0
    assert "works again" in caplog.records[-1].getMessage()
    assert reader.rounds == 4


def test_the_offsets_reader_reads_in_its_own_thread_until_stopped():
    read = threading.Event()
    reader = OffsetsReader(["orders"], 0.01, source=lambda group: read.set() or [])
    reader.start()
    assert read.wait(10)
    reader.stop()
    assert reader._thread is not None and not reader._thread.is_alive()


def test_no_offsets_reader_without_kafka_or_with_interval_zero():
    from django_sharegroups.runtime.metrics_endpoint import offsets_reader

    kafka = {"bootstrap.servers": "127.0.0.1:9"}
    assert offsets_reader(ShareGroupsSettings(client="memory"), ["g"]) is None
    assert offsets_reader(ShareGroupsSettings(client="native", kafka=kafka), ["g"]) is not None
    off = ShareGroupsSettings(client="native", kafka=kafka, metrics_offsets_interval=0)
    assert offsets_reader(off, ["g"]) is None


def test_leases_in_flight_and_listener_state_are_read_from_the_runner_at_scrape_time():
    import time
    import types

    from django_sharegroups.clients.base import ReceivedRecord
    from django_sharegroups.processing.leases import LeaseTracker

    leases = LeaseTracker("member")
    records = [ReceivedRecord("t", 0, n, None, b"", delivery_count=1 + n % 3) for n in range(7)]
    leases.acquired(records, 30_000, time.time())
    leases.settled(records[0])  # delivery count 1: no longer held
    listener = types.SimpleNamespace(
        share_group=types.SimpleNamespace(name="orders"),
        leases=leases,
        startup_error=None,
        is_alive=lambda: True,
        stop_event=threading.Event(),
    )
    metrics = ShareGroupsMetrics()
    metrics.runner = types.SimpleNamespace(listeners=[listener])
    value = metrics.registry.get_sample_value
    held = "sharegroups_leases_in_flight"
    assert value(held, {"share_group": "orders", "delivery_count": "1"}) == 2
    assert value(held, {"share_group": "orders", "delivery_count": "2"}) == 2
    assert value(held, {"share_group": "orders", "delivery_count": "3"}) == 2
    running = {"share_group": "orders", "state": "running"}
    assert value("sharegroups_listeners", running) == 1
    assert value("sharegroups_listeners", {"share_group": "orders", "state": "failed"}) == 0
