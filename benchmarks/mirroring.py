"""Mirroring benchmark: throughput with full mirroring vs mirroring off, side by side.

``python -m benchmarks.mirroring [--records 10000] [--rounds 5] [--concurrency 4]``
``python -m benchmarks.mirroring --rollup-cost [--rounds 5]``: full mirroring with and without
the per-minute rollups (the dashboards' time series), alternating; wall and CPU time per record.
``python -m benchmarks.mirroring --queue-only [--rounds 5]``: only what a consumer thread pays
to hand the reporter an event, on a queue with room and on a full one (which drops and counts).

Each round consumes the same number of records on the in-memory broker twice, once with
``SHAREGROUPS["MIRROR"]`` all ``"full"`` (default interval) and once all ``"off"``, in
alternating order; 1 % of the records are dead-lettered (so ``dlq.dispatched`` and
``record.archived`` are mirrored too). Two workloads: ``noop`` (consume does nothing but
acknowledge: the worst case for any overhead) and ``idempotent`` (each job looks up and writes a
ProcessedRecord row in a transaction: a typical Django job). The goal is a cost of at most 5 %.

Runs on a throwaway database: a temporary SQLite file, or ``sharegroups_bench`` next to the
database of ``DATABASE_URL`` when that is PostgreSQL.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
import uuid

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from django_sharegroups import ShareGroupConsumer, share_group, topic  # noqa: E402
from django_sharegroups.clients.memory import MemoryBroker, MemoryClientFactory  # noqa: E402
from django_sharegroups.conf import ShareGroupsSettings  # noqa: E402
from django_sharegroups.instrumentation import EventBus  # noqa: E402
from django_sharegroups.instrumentation.logging_listener import log_event  # noqa: E402
from django_sharegroups.mirroring.listeners import connect  # noqa: E402
from django_sharegroups.mirroring.reporter import MirrorReporter  # noqa: E402
from django_sharegroups.mirroring.settings import MirrorSettings  # noqa: E402
from django_sharegroups.models import ArchivedRecord, DeadLetter  # noqa: E402
from django_sharegroups.routing import RouteRegistry  # noqa: E402
from django_sharegroups.runtime.runner import ShareConsumerRunner  # noqa: E402

from .report import write_section  # noqa: E402

MODES = {
    "full": MirrorSettings.from_setting("full"),
    "off": MirrorSettings.from_setting("off"),
    "no-rollups": MirrorSettings.from_setting({"rollups": "off"}),
}
#: Every n-th record is dead-lettered.
DEAD_LETTER_EVERY = 100


class NoopConsumer(ShareGroupConsumer):
    def consume(self, messages):
        for message in messages:
            if message.payload["n"] % DEAD_LETTER_EVERY == 0:
                self.dispatch_to_dlq(message, "benchmark poison")
            else:
                self.mark_accepted(message)


class IdempotentConsumer(NoopConsumer):
    idempotent = True


WORKLOADS = {"noop": NoopConsumer, "idempotent": IdempotentConsumer}


def settled(broker: MemoryBroker, name: str) -> bool:
    try:
        offsets = broker.share_group_offsets(name)
    except Exception:
        return False
    lags = [offsets[key].lag for key in offsets if key[0] == name]
    return bool(lags) and not any(lags) and broker.acquired_count(name) == 0


def one_run(consumer, mode: str, records: int, concurrency: int) -> tuple[float, dict]:
    """Records per second of one consumption of ``records`` records (and, in the stats, the
    process's CPU time per record: consumer threads and the reporter together)."""
    broker = MemoryBroker()
    name = f"bench-{uuid.uuid4().hex[:8]}"
    broker.create_topic(name, 4)
    broker.create_topic(f"{name}-dlq", 1)
    broker.alter_group_config(name, {"share.auto.offset.reset": "earliest"})
    for n in range(records):
        broker.produce(name, b'{"n": %d}' % n)
    group = share_group(
        name,
        topics=[
            topic(
                name,
                consumer=consumer,
                dead_letter_queue={"topic": f"{name}-dlq", "max_retries": 1},
            )
        ],
        concurrency=concurrency,
        registry=RouteRegistry(),
    )
    bus = EventBus()
    bus.subscribe("*", log_event)  # as in a real process
    mirror_listener = connect(bus)
    runner = ShareConsumerRunner(
        [group],
        settings=ShareGroupsSettings(client="memory", mirror=MODES[mode]),
        factories={"memory": MemoryClientFactory(broker)},
        bus=bus,
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    runner.start()
    reporter = mirror_listener.reporter
    while not settled(broker, name):
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    runner.shutdown()  # the reporter's last flush counts too
    stats: dict = {"cpu_us": (time.process_time() - cpu_started) / records * 1e6}
    if reporter is not None:
        stats |= {
            "written": dict(reporter.written),
            "dropped": reporter.dropped,
            "failures": dict(reporter.failures),
        }
        expected = records // DEAD_LETTER_EVERY
        mirrored = DeadLetter.objects.filter(share_group=name).count()
        archived = ArchivedRecord.objects.filter(share_group=name).count()
        assert mirrored == expected and archived == expected, (mirrored, archived, expected)
    return records / elapsed, stats


def queue_cost(full: bool, events: int = 100_000) -> float:
    """Microseconds one ``record_archived`` call costs a consumer thread; with ``full``, the
    queue is full and every call drops and counts (nothing may wait for the database)."""
    size = 5 if full else events + 1
    reporter = MirrorReporter([], MirrorSettings.from_setting({"queue_size": size}))
    payload = {"share_group": "g", "topic": "t", "partition": 0, "offset": 0, "delivery_count": 5}
    for _ in range(size if full else 0):
        reporter.record_archived(payload)
    started = time.perf_counter()
    for _ in range(events):
        reporter.record_archived(payload)
    elapsed = time.perf_counter() - started
    assert reporter.dropped["archived"] == (events if full else 0)
    return elapsed / events * 1e6


def queue_benchmark(rounds: int) -> None:
    """Room vs full queue, alternating; written to its own section of docs/benchmarks.md."""
    costs: dict[str, list[float]] = {"room": [], "full": []}
    for round_number in range(rounds):
        order = ("room", "full") if round_number % 2 == 0 else ("full", "room")
        for kind in order:
            costs[kind].append(queue_cost(full=kind == "full"))
            print(f"{kind:4} {costs[kind][-1]:.2f} µs/event", flush=True)
    room, full = statistics.median(costs["room"]), statistics.median(costs["full"])
    write_section(
        "mirroring_queue",
        f"""## Mirroring: handing an event to the reporter

`python -m benchmarks.mirroring --queue-only --rounds {rounds}`: 100,000 `record_archived`
calls per run on one thread, queue with room vs full queue (drops and counts), alternating.
Median cost per event: **{room:.2f} µs** with room, **{full:.2f} µs** on a full queue
(goal: a few µs either way; a consumer thread never waits for the database).
""",
    )


def isolated_database() -> None:
    """Point the default connection at a fresh database of its own."""
    database = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        name = os.path.join(tempfile.gettempdir(), f"sharegroups-bench-{os.getpid()}.sqlite3")
    else:
        name = f"sharegroups_bench_{os.getpid()}"
    database["TEST"]["NAME"] = name
    # Persistent connections, as a consumer process should run (docs/orm.md): with 0, every
    # job opens a new connection and the benchmark measures connection setup.
    database["CONN_MAX_AGE"] = 600
    connection.creation.create_test_db(verbosity=0, autoclobber=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    parser.add_argument("--queue-only", action="store_true", help="only the event hand-off cost")
    parser.add_argument(
        "--rollup-cost", action="store_true", help="full mirroring with vs without rollups"
    )
    args = parser.parse_args()
    if args.queue_only:
        queue_benchmark(args.rounds)
        return
    modes = ("full", "no-rollups") if args.rollup_cost else ("full", "off")
    logging.disable(logging.WARNING)  # log_event stays subscribed; only output is muted
    old_name = settings.DATABASES["default"]["NAME"]
    isolated_database()
    results: dict[str, dict[str, list[float]]] = {}
    stats: dict[str, dict] = {}
    try:
        for workload in args.workloads:
            consumer = WORKLOADS[workload]
            one_run(consumer, "off", min(args.records, 1000), args.concurrency)  # warm up
            rates: dict[str, list[float]] = {mode: [] for mode in modes}
            cpu: dict[str, list[float]] = {mode: [] for mode in modes}
            for round_number in range(args.rounds):
                order = modes if round_number % 2 == 0 else modes[::-1]
                for mode in order:
                    rate, mode_stats = one_run(consumer, mode, args.records, args.concurrency)
                    rates[mode].append(rate)
                    cpu[mode].append(mode_stats["cpu_us"])
                    if mode == "full":
                        stats[workload] = mode_stats
                    print(
                        f"{workload:10} {mode:10} {rate:9.0f} records/s "
                        f"{mode_stats['cpu_us']:6.1f} µs CPU/record",
                        flush=True,
                    )
            results[workload] = rates
            if args.rollup_cost:
                print(rollup_summary(workload, rates, cpu), flush=True)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    if not args.rollup_cost:  # the rollup comparison is printed, docs/benchmarks.md says it
        report(args, results, stats)


def rollup_summary(workload: str, rates: dict[str, list[float]], cpu: dict[str, list]) -> str:
    with_, without = statistics.median(rates["full"]), statistics.median(rates["no-rollups"])
    cpu_with, cpu_without = statistics.median(cpu["full"]), statistics.median(cpu["no-rollups"])
    return (
        f"{workload}: with rollups / without = {with_ / without:.3f} records/s "
        f"({with_:,.0f} vs {without:,.0f}); CPU per record {cpu_with:.1f} vs "
        f"{cpu_without:.1f} µs ({cpu_with / cpu_without - 1:+.1%})"
    )


def report(args, results: dict[str, dict[str, list[float]]], stats: dict[str, dict]) -> None:
    rows = []
    for workload, rates in results.items():
        full, off = statistics.median(rates["full"]), statistics.median(rates["off"])
        pairs = [f / o for f, o in zip(rates["full"], rates["off"], strict=True)]
        cost = 1 - full / off
        rows.append(
            f"| {workload} | {off:,.0f} | {full:,.0f} | **{full / off:.3f}** ({cost:+.1%} cost) "
            f"| {', '.join(f'{p:.2f}' for p in pairs)} |"
        )
        print(f"{workload}: full/off = {full / off:.3f} (pairs: {pairs})")
    written = "; ".join(
        f"{workload}: {s.get('written')} written, dropped {s.get('dropped')}, "
        f"failed batches {s.get('failures') or 0}"
        for workload, s in stats.items()
    )
    database = connection.vendor
    write_section(
        "mirroring",
        f"""## Mirroring: full vs off

`python -m benchmarks.mirroring --records {args.records} --rounds {args.rounds}`: in-memory
broker, {args.concurrency} consumer threads, {args.records} records per run (1 % dead-lettered),
{database} database; full and off alternate, {args.rounds} runs each per workload. Throughput in
records/s (median); the ratio is full / off (goal: cost ≤ 5 %, i.e. ratio ≥ 0.95).

| workload | off | full | ratio | per-pair ratios |
| --- | --- | --- | --- | --- |
{chr(10).join(rows)}

`noop` acknowledges without touching the database (worst case: any overhead shows);
`idempotent` looks up and writes a ProcessedRecord row per job in a transaction. Last full
run's reporter counters: {written}.
""",
    )


if __name__ == "__main__":
    main()
