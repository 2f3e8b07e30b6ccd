"""Prometheus exporter: runtime events counted into ``sharegroups_*`` metrics, served on /metrics.

Counters and histograms are fed by the event bus; :data:`HANDLERS` is the one place that maps
an event to its metrics, and it subscribes to those events only. Events come per poll, per job
and per acknowledgement batch, never per delivered record (archives, expiries and DLQ copies are
per record but rare). Leases in flight and listener state are read from the runner when
Prometheus scrapes, so they cost nothing between scrapes. Needs the ``metrics`` extra
(``prometheus-client``); docs/metrics.md lists every metric.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .bus import EventBus, events

JOB_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
RECORDS_PER_POLL = (0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)
DELIVERY_COUNTS = (1, 2, 3, 4, 5, 6, 8, 10)
#: acks.sent count keys → the counter they add to.
SETTLED = {"ACCEPT": "accepted", "RELEASE": "released", "REJECT": "rejected"}


class ShareGroupsMetrics:
    """The metrics of one process, in their own registry (tests can build several)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r, g = self.registry, ["share_group"]

        def counter(name: str, doc: str, labels: list[str] = g) -> Counter:
            return Counter(f"sharegroups_{name}", doc, labels, registry=r)

        self.received = counter("records_received", "Records delivered by polls.")
        self.accepted = counter("records_accepted", "Records acknowledged ACCEPT.")
        self.released = counter("records_released", "Records acknowledged RELEASE.")
        self.rejected = counter("records_rejected", "Records acknowledged REJECT.")
        self.delayed = counter("records_release_delayed", "Records held for a delayed RELEASE.")
        self.filtered = counter(
            "records_filtered", "Records a topic filter dropped (ACCEPTed).", [*g, "topic"]
        )
        self.undeserializable = counter(
            "records_undeserializable", "Records that could not be decoded.", [*g, "action"]
        )
        self.dead_lettered = counter(
            "records_dead_lettered", "Records copied to a DLQ.", [*g, "topic", "reason"]
        )
        self.archived = counter(
            "records_archived", "Records the broker archives now.", [*g, "topic", "reason"]
        )
        self.lock_expiries = counter(
            "lock_expiries", "Leases that ran out before their acknowledgement.", [*g, "processed"]
        )
        self.renewals = counter("lock_renewals", "Acquisition locks renewed (RENEW).")
        self.job_errors = counter("job_errors", "consume() calls that raised.", [*g, "consumer"])
        self.consumer_errors = counter("consumer_errors", "Client, poll and hook failures.")
        self.ack_failures = counter("acknowledgement_failures", "Acknowledgements refused.")
        self.corrupt_batches = counter(
            "corrupt_batches", "Record batches that could not be decoded.", [*g, "topic"]
        )
        self.throttled = counter("throttled", "Times the group's throttle paused polling.")
        self.job_seconds = Histogram(
            "sharegroups_job_duration_seconds",
            "Time consume() took per job.",
            [*g, "consumer"],
            buckets=JOB_SECONDS,
            registry=r,
        )
        self.poll_records = Histogram(
            "sharegroups_poll_records",
            "Records returned per poll.",
            g,
            buckets=RECORDS_PER_POLL,
            registry=r,
        )
        self.final_delivery_count = Histogram(
            "sharegroups_final_delivery_count",
            "Delivery count of records when they were archived or dead-lettered.",
            [*g, "outcome"],
            buckets=DELIVERY_COUNTS,
            registry=r,
        )
        self._children: dict[tuple, Any] = {}
        self._job_started = threading.local()
        self.runner: Any = None
        self.registry.register(RunnerCollector(self))

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, cached: label lookups were most of the per-event cost."""
        key = (metric, *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    # -- the event -> metric mapping ------------------------------------------------------------

    def on_poll(self, p: dict[str, Any]) -> None:
        self.child(self.poll_records, p["share_group"]).observe(p["records"])
        if p["records"]:
            self.child(self.received, p["share_group"]).inc(p["records"])

    def on_acks(self, p: dict[str, Any]) -> None:
        group = p["share_group"]
        for kind, count in p["counts"].items():
            if kind in SETTLED:
                self.child(getattr(self, SETTLED[kind]), group).inc(count)
            elif kind == "RELEASE_DELAYED":
                self.child(self.delayed, group).inc(count)

    def on_job_started(self, p: dict[str, Any]) -> None:
        # job.started and job.finished/errored are published by the thread that runs the job.
        self._job_started.at = time.perf_counter()

    def on_job_ended(self, p: dict[str, Any]) -> None:
        started = getattr(self._job_started, "at", None)
        if started is not None:
            self._job_started.at = None
            seconds = time.perf_counter() - started
            self.child(self.job_seconds, p["share_group"], p["consumer"]).observe(seconds)

    def on_job_errored(self, p: dict[str, Any]) -> None:
        self.child(self.job_errors, p["share_group"], p["consumer"]).inc()
        self.on_job_ended(p)

    def on_archived(self, p: dict[str, Any]) -> None:
        self.child(self.archived, p["share_group"], p["topic"], p["reason"]).inc()
        self.child(self.final_delivery_count, p["share_group"], "archived").observe(
            p["delivery_count"]
        )

    def on_dead_lettered(self, p: dict[str, Any]) -> None:
        reason = p.get("error_class") or "unknown"
        self.child(self.dead_lettered, p["share_group"], p["topic"], reason).inc()
        count = p["delivery_count"]
        self.child(self.final_delivery_count, p["share_group"], "dead_lettered").observe(count)

    def on_lock_expired(self, p: dict[str, Any]) -> None:
        self.child(self.lock_expiries, p["share_group"], str(bool(p["processed"])).lower()).inc()

    def on_process_started(self, p: dict[str, Any]) -> None:
        self.runner = p["runner"]

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], None]]:
        """Event name → what it adds; the only mapping from events to metrics."""
        return {
            "poll": self.on_poll,
            "acks.sent": self.on_acks,
            "job.started": self.on_job_started,
            "job.finished": self.on_job_ended,
            "job.errored": self.on_job_errored,
            "record.archived": self.on_archived,
            "dlq.dispatched": self.on_dead_lettered,
            "lock.expired": self.on_lock_expired,
            "lock.renewed": lambda p: self.child(self.renewals, p["share_group"]).inc(),
            "records.filtered": lambda p: self.child(
                self.filtered, p["share_group"], p["topic"]
            ).inc(p["count"]),
            "record.undeserializable": lambda p: self.child(
                self.undeserializable, p["share_group"], p["action"]
            ).inc(),
            "consumer.error": lambda p: self.child(self.consumer_errors, p["share_group"]).inc(),
            "acks.failed": lambda p: self.child(self.ack_failures, p["share_group"]).inc(
                len(p["failures"])
            ),
            "batch.corrupt": lambda p: self.child(
                self.corrupt_batches, p["share_group"], p["topic"]
            ).inc(),
            "throttled": lambda p: self.child(self.throttled, p["share_group"]).inc(),
            "process.started": self.on_process_started,
        }

    def subscribe(self, bus: EventBus = events) -> None:
        for event, handler in self.handlers().items():
            bus.subscribe(event, _listener(handler))


def _listener(handler: Callable[[dict[str, Any]], None]) -> Callable[[str, dict[str, Any]], None]:
    def listener(event: str, payload: dict[str, Any]) -> None:
        handler(payload)

    listener.__qualname__ = f"metrics:{handler.__name__}"
    return listener


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
                for lease in listener.leases.current_leases:
                    held[(group, str(lease.delivery_count))] += 1
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


def start_exporter(
    port: int, address: str = "127.0.0.1", bus: EventBus = events
) -> ShareGroupsMetrics:
    """Subscribe the metrics to ``bus`` and serve them on ``http://address:port/metrics``."""
    metrics = ShareGroupsMetrics()
    metrics.subscribe(bus)
    start_http_server(port, addr=address, registry=metrics.registry)
    return metrics
