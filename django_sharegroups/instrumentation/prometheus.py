"""Prometheus exporter: the event counts (counts.py) served as ``sharegroups_*`` on /metrics.

Nothing here runs per event: the counts are turned into metric families when Prometheus
scrapes, and leases in flight and listener state are read from the runner then; the broker's
per-partition offsets come from a reader thread of their own (offsets.py). Needs the
``metrics`` extra (``prometheus-client``); docs/metrics.md lists every metric.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .bus import EventBus, events
from .counts import METRICS, EventCounts
from .offsets import OffsetsReader


class ShareGroupsMetrics:
    """The metrics of one process, in a registry of their own (tests can build several)."""

    def __init__(self, counts: EventCounts | None = None) -> None:
        self.counts = counts or EventCounts()
        self.runner: Any = None
        self.registry = CollectorRegistry()
        self.registry.register(CountsCollector(self.counts))
        self.registry.register(RunnerCollector(self))

    def subscribe(self, bus: EventBus = events, *, counts: bool = True) -> None:
        """Count the events (unless ``counts`` already listen) and find the runner."""
        if counts:
            self.counts.subscribe(bus)
        bus.subscribe("process.started", self._started)

    def _started(self, event: str, payload: dict[str, Any]) -> None:
        self.runner = payload["runner"]


class CountsCollector(Collector):
    """The event counts as ``sharegroups_*`` counters and histograms, built at scrape time."""

    def __init__(self, counts: EventCounts) -> None:
        self.counts = counts

    def collect(self) -> Iterable[Metric]:
        by_metric: dict[str, list[tuple[tuple[str, ...], Any]]] = {}
        for (name, labels), value in self.counts.snapshot().items():
            by_metric.setdefault(name, []).append((labels, value))
        for metric in METRICS.values():
            name = f"sharegroups_{metric.name}"
            samples = sorted(by_metric.get(metric.name, []))
            if metric.histogram:
                histogram = HistogramMetricFamily(name, metric.doc, labels=metric.labels)
                for labels, counts in samples:
                    cumulative, buckets = 0, []
                    for bound, count in zip([*metric.buckets, float("inf")], counts, strict=False):
                        cumulative += count
                        buckets.append((floatToGoString(bound), cumulative))
                    histogram.add_metric(list(labels), buckets, counts[-1])
                yield histogram
            else:
                counter = CounterMetricFamily(name, metric.doc, labels=metric.labels)
                for labels, value in samples:
                    counter.add_metric(list(labels), value)
                yield counter


DELIVERY_COUNT = attrgetter("delivery_count")

#: Listener states: a thread that never joined, one consuming, one stopping, one gone.
STATES = ("failed", "running", "stopping", "stopped")


class RunnerCollector(Collector):
    """Leases in flight and listener state, read from the runner at scrape time."""

    def __init__(self, metrics: ShareGroupsMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[GaugeMetricFamily]:
        runner = self.metrics.runner
        leases = GaugeMetricFamily(
            "sharegroups_leases_in_flight",
            "Records this process holds under an acquisition lock, by delivery count.",
            labels=["share_group", "delivery_count"],
        )
        states = GaugeMetricFamily(
            "sharegroups_listeners",
            "Share-consumer instances of this process by state.",
            labels=["share_group", "state"],
        )
        if runner is not None:
            held: Tally[tuple[str, str]] = Tally()
            by_state: Tally[tuple[str, str]] = Tally()
            for listener in runner.listeners:
                group = listener.share_group.name
                counts = Tally(map(DELIVERY_COUNT, listener.leases.held_records))
                for delivery_count, count in counts.items():
                    held[(group, str(delivery_count))] += count
                by_state[(group, listener_state(listener))] += 1
                for state in STATES:
                    by_state[(group, state)] += 0
            for labels, count in sorted(held.items()):
                leases.add_metric(list(labels), count)
            for labels, count in sorted(by_state.items()):
                states.add_metric(list(labels), count)
        yield leases
        yield states


def listener_state(listener: Any) -> str:
    if getattr(listener, "startup_error", None) is not None:
        return "failed"
    if not listener.is_alive():
        return "stopped"
    return "stopping" if listener.stop_event.is_set() else "running"


class OffsetsCollector(Collector):
    """Per-partition SPSO, log end offset and lag as the offsets reader last read them from
    the broker, and its failed reads."""

    def __init__(self, reader: OffsetsReader) -> None:
        self.reader = reader

    def collect(self) -> Iterable[Metric]:
        labels = ["share_group", "topic", "partition"]
        lag = GaugeMetricFamily(
            "sharegroups_partition_lag",
            "Records of the partition not yet delivered and acknowledged (from the broker).",
            labels=labels,
        )
        spso = GaugeMetricFamily(
            "sharegroups_partition_start_offset",
            "The share-partition start offset (SPSO), from the broker.",
            labels=labels,
        )
        end = GaugeMetricFamily(
            "sharegroups_partition_end_offset",
            "The partition's log end offset, from the broker.",
            labels=labels,
        )
        errors = CounterMetricFamily(
            "sharegroups_offsets_read_errors",
            "Failed reads of a share group's offsets from the broker, by error.",
            labels=["share_group", "error"],
        )
        for group, offsets in sorted(dict(self.reader.latest).items()):
            for entry in offsets:
                where = [group, entry.topic, str(entry.partition)]
                for family, value in ((lag, entry.lag), (spso, entry.start_offset)):
                    if value is not None:
                        family.add_metric(where, value)
                if entry.log_end_offset is not None:
                    end.add_metric(where, entry.log_end_offset)
        for (group, error), count in sorted(dict(self.reader.errors).items()):
            errors.add_metric([group, error], count)
        yield from (lag, spso, end, errors)


def start_exporter(
    port: int,
    address: str = "127.0.0.1",
    bus: EventBus = events,
    counts: EventCounts | None = None,
    offsets: OffsetsReader | None = None,
) -> ShareGroupsMetrics:
    """Serve ``http://address:port/metrics`` from ``counts`` (already subscribed to ``bus``),
    or from counts of its own subscribed here; ``offsets``: the broker's per-partition offsets
    too (the caller starts the reader)."""
    metrics = ShareGroupsMetrics(counts)
    metrics.subscribe(bus, counts=counts is None)
    if offsets is not None:
        metrics.registry.register(OffsetsCollector(offsets))
    start_http_server(port, addr=address, registry=metrics.registry)
    return metrics


def child_port(port: int, index: int) -> int:
    """A supervised child serves on the port after the supervisor's plus its index, on
    loopback only: the supervisor's endpoint is the one to scrape."""
    return port + 1 + index


class ChildrenCollector(Collector):
    """The supervisor's endpoint: every child's metrics, read when scraped and added up
    (counters, histograms and gauges alike; a child that is restarting is left out, and its
    counters start again from 0, which Prometheus reads as a counter reset)."""

    def __init__(self, ports: list[int], timeout: float = 2.0) -> None:
        self.ports = ports
        self.timeout = timeout

    def collect(self) -> Iterable[Metric]:
        from urllib.request import urlopen

        from prometheus_client.parser import text_string_to_metric_families

        families: dict[str, Metric] = {}
        sums: dict[str, dict[tuple[str, tuple], float]] = {}
        for port in self.ports:
            try:
                with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=self.timeout) as answer:
                    text = answer.read().decode()
            except OSError:
                continue
            for family in text_string_to_metric_families(text):
                families.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                samples = sums.setdefault(family.name, {})
                for sample in family.samples:
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    samples[key] = samples.get(key, 0.0) + sample.value
        for name, family in families.items():
            for (sample_name, labels), value in sums[name].items():
                family.add_sample(sample_name, dict(labels), value)
            yield family


def start_supervisor_exporter(
    port: int, address: str, processes: int, offsets: OffsetsReader | None = None
) -> None:
    """Serve ``http://address:port/metrics`` adding up the children's endpoints (and the
    broker's offsets, read here once rather than by every child)."""
    registry = CollectorRegistry()
    registry.register(ChildrenCollector([child_port(port, i) for i in range(processes)]))
    if offsets is not None:
        registry.register(OffsetsCollector(offsets))
    start_http_server(port, addr=address, registry=registry)
