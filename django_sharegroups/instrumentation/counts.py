"""Event counts: the one table from runtime events to named counts and histograms.

The Prometheus exporter (prometheus.py) and the summary lines (summary.py) both read these
counts, so an event is counted once. Each publishing thread adds to tallies of its own (plain
ints and lists, no lock: only that thread writes them); readers sum a copy of every thread's
tallies. Events come per poll and per batch of settled jobs (acknowledgements, durations);
archives, lock expiries and DLQ copies are per record but rare.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .bus import EventBus, events

Key = tuple[str, tuple[str, ...]]

JOB_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
RECORDS_PER_POLL = (0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)
DELIVERY_COUNTS = (1, 2, 3, 4, 5, 6, 8, 10)
POLL_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class Metric:
    name: str
    doc: str
    labels: tuple[str, ...] = ("share_group",)
    buckets: tuple[float, ...] = ()  # a histogram when set

    @property
    def histogram(self) -> bool:
        return bool(self.buckets)


G = "share_group"
METRICS = {
    m.name: m
    for m in (
        Metric("records_received", "Records delivered by polls."),
        Metric("records_accepted", "Records acknowledged ACCEPT.", (G, "topic")),
        Metric("records_released", "Records acknowledged RELEASE.", (G, "topic")),
        Metric("records_rejected", "Records acknowledged REJECT.", (G, "topic")),
        Metric("records_release_delayed", "Records held for a delayed RELEASE.", (G, "topic")),
        Metric("records_filtered", "Records a topic filter dropped (ACCEPTed).", (G, "topic")),
        Metric("records_undeserializable", "Records that could not be decoded.", (G, "action")),
        Metric("records_dead_lettered", "Records copied to a DLQ.", (G, "topic", "reason")),
        Metric("records_archived", "Records the broker archives now.", (G, "topic", "reason")),
        Metric(
            "lock_expiries", "Leases that ran out before their acknowledgement.", (G, "processed")
        ),
        Metric("lock_renewals", "Acquisition locks renewed (RENEW)."),
        Metric("job_errors", "consume() calls that raised.", (G, "consumer")),
        Metric("consumer_errors", "Client, poll and hook failures."),
        Metric("acknowledgement_failures", "Acknowledgements the broker refused."),
        Metric("corrupt_batches", "Record batches that could not be decoded.", (G, "topic")),
        Metric("throttled", "Times the group's throttle paused polling."),
        Metric(
            "job_duration_seconds", "Time consume() took per job.", (G, "consumer"), JOB_SECONDS
        ),
        Metric("poll_records", "Records returned per poll.", (G,), RECORDS_PER_POLL),
        Metric(
            "poll_duration_seconds",
            "Time a poll took (an idle poll waits up to the poll timeout).",
            (G,),
            POLL_SECONDS,
        ),
        Metric(
            "received_delivery_count",
            "Delivery count of every record a poll returned (1 = first delivery).",
            (G,),
            DELIVERY_COUNTS,
        ),
        Metric(
            "final_delivery_count",
            "Delivery count of records when they were archived or dead-lettered.",
            (G, "outcome"),
            DELIVERY_COUNTS,
        ),
    )
}
#: acks.sent count keys → the counter they add to.
SETTLED = {
    "ACCEPT": "records_accepted",
    "RELEASE": "records_released",
    "REJECT": "records_rejected",
    "RELEASE_DELAYED": "records_release_delayed",
}


class EventCounts:
    """Counts of the events in :meth:`handlers`, per thread, summed by :meth:`snapshot`."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._tallies: list[dict[Key, Any]] = []
        self._lock = threading.Lock()

    def _mine(self) -> dict[Key, Any]:
        try:
            return self._local.tallies
        except AttributeError:
            tallies: dict[Key, Any] = {}
            self._local.tallies = tallies
            with self._lock:
                self._tallies.append(tallies)
            return tallies

    def add(self, name: str, labels: tuple[str, ...], n: int = 1) -> None:
        tallies = self._mine()
        key = (name, labels)
        tallies[key] = tallies.get(key, 0) + n

    def observe(self, name: str, labels: tuple[str, ...], value: float, times: int = 1) -> None:
        """Histograms: a count per bucket (the last one is +Inf), then the sum; ``times``
        observes the same value that many times at once (a poll's delivery counts)."""
        counts = self._histogram(name, labels)
        counts[bisect_left(METRICS[name].buckets, value)] += times
        counts[-1] += value * times

    def _histogram(self, name: str, labels: tuple[str, ...]) -> list:
        """This thread's tally of histogram ``name``: a count per bucket (+Inf last), the sum."""
        tallies = self._mine()
        counts = tallies.get((name, labels))
        if counts is None:
            counts = tallies[(name, labels)] = [0] * (len(METRICS[name].buckets) + 1) + [0.0]
        return counts

    def observe_each(self, name: str, labels: tuple[str, ...], values: list[float]) -> None:
        """``observe`` each of ``values`` (a batch of jobs' durations) in one call."""
        counts = self._histogram(name, labels)
        buckets = METRICS[name].buckets
        for value in values:
            counts[bisect_left(buckets, value)] += 1
        counts[-1] += sum(values)

    def snapshot(self) -> dict[Key, Any]:
        """Every thread's tallies added up (ints, or lists for histograms)."""
        with self._lock:
            copies = [dict(tallies) for tallies in self._tallies]
        total: dict[Key, Any] = {}
        for tallies in copies:
            for key, value in tallies.items():
                if isinstance(value, list):
                    value = list(value)
                    before = total.get(key)
                    total[key] = (
                        value
                        if before is None
                        else [a + b for a, b in zip(before, value, strict=True)]
                    )
                else:
                    total[key] = total.get(key, 0) + value
        return total

    # -- the event -> count mapping -------------------------------------------------------------

    def on_poll(self, event: str, p: dict[str, Any]) -> None:
        group = (p["share_group"],)
        self.observe("poll_records", group, p["records"])
        self.observe("poll_duration_seconds", group, p["seconds"])
        if p["records"]:
            self.add("records_received", group, p["records"])
            for delivery_count, records in p["delivery_counts"].items():
                self.observe("received_delivery_count", group, delivery_count, records)

    def on_acks(self, event: str, p: dict[str, Any]) -> None:
        group = (p["share_group"], p["topic"])
        for kind, count in p["counts"].items():
            name = SETTLED.get(kind)
            if name is not None:
                self.add(name, group, count)

    def on_jobs_timed(self, event: str, p: dict[str, Any]) -> None:
        """Every job's duration, finished or errored (one event per settled batch of jobs)."""
        self.observe_each("job_duration_seconds", (p["share_group"], p["consumer"]), p["seconds"])

    def on_job_errored(self, event: str, p: dict[str, Any]) -> None:
        self.add("job_errors", (p["share_group"], p["consumer"]))

    def on_archived(self, event: str, p: dict[str, Any]) -> None:
        self.add("records_archived", (p["share_group"], p["topic"], p["reason"]))
        self.observe("final_delivery_count", (p["share_group"], "archived"), p["delivery_count"])

    def on_dead_lettered(self, event: str, p: dict[str, Any]) -> None:
        reason = p.get("error_class") or "unknown"
        self.add("records_dead_lettered", (p["share_group"], p["topic"], reason))
        outcome = (p["share_group"], "dead_lettered")
        self.observe("final_delivery_count", outcome, p["delivery_count"])

    def on_other(self, event: str, p: dict[str, Any]) -> None:
        name, labels, amount = OTHERS[event]
        self.add(name, labels(p), amount(p))

    def handlers(self) -> dict[str, Callable[[str, dict[str, Any]], None]]:
        """Event name → what it counts; the exporter subscribes to these events only."""
        return {
            "poll": self.on_poll,
            "acks.sent": self.on_acks,
            "jobs.timed": self.on_jobs_timed,
            "job.errored": self.on_job_errored,
            "record.archived": self.on_archived,
            "dlq.dispatched": self.on_dead_lettered,
            **dict.fromkeys(OTHERS, self.on_other),
        }

    def subscribe(self, bus: EventBus = events) -> None:
        for event, handler in self.handlers().items():
            bus.subscribe(event, handler)


def _one(p: dict[str, Any]) -> int:
    return 1


def _group(p: dict[str, Any]) -> tuple[str, ...]:
    return (p["share_group"],)


#: Simple events: event → (count, its labels from the payload, amount).
OTHERS: dict[
    str,
    tuple[str, Callable[[dict[str, Any]], tuple[str, ...]], Callable[[dict[str, Any]], int]],
] = {
    "lock.expired": (
        "lock_expiries",
        lambda p: (p["share_group"], "true" if p["processed"] else "false"),
        _one,
    ),
    "lock.renewed": ("lock_renewals", _group, _one),
    "records.filtered": (
        "records_filtered",
        lambda p: (p["share_group"], p["topic"]),
        lambda p: p["count"],
    ),
    "record.undeserializable": (
        "records_undeserializable",
        lambda p: (p["share_group"], p["action"]),
        _one,
    ),
    "consumer.error": ("consumer_errors", _group, _one),
    "acks.failed": ("acknowledgement_failures", _group, lambda p: len(p["failures"])),
    "batch.corrupt": ("corrupt_batches", lambda p: (p["share_group"], p["topic"]), _one),
    "throttled": ("throttled", _group, _one),
}
