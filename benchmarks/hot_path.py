"""The engine's own per-record cost, without a broker: a profiling aid, not a goal.

``python -m benchmarks.hot_path [--records 300000] [--rounds 3] [--builder per_batch]
[--per-job 500] [--deserializer json] [--adapter confluent|native] [--counts] [--profile]``

One listener (as ``runshareconsumers`` runs it) on a stand-in adapter whose ``poll`` builds
``ReceivedRecord`` objects from ready bytes (100-byte JSON, 3 partitions) and whose
``acknowledge`` only counts: what is left is the engine's work per record — intake, jobs,
``consume`` marking each record ACCEPTed, settlement, leases. ``--adapter native`` gives the
stand-in the native adapter's capabilities (RENEW, records held across polls, so a worker
pool); ``confluent`` none. ``--counts`` subscribes the event counts ``runshareconsumers``
keeps for its summary lines and /metrics (on by default there), so per-job events are built as
they are in production. Prints process CPU µs per record per round (steadier than wall time
on a shared machine); ``--profile`` prints cProfile's top entries of one more round instead.
The real adapters' own costs are in ``benchmarks.record_path`` and ``benchmarks.throughput``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import threading
import time
from collections.abc import Mapping
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django_sharegroups import ShareGroupConsumer, share_group  # noqa: E402
from django_sharegroups import topic as route  # noqa: E402
from django_sharegroups.clients.base import (  # noqa: E402
    AcknowledgementFailure,
    AcknowledgeType,
    Capability,
    ReceivedRecord,
    ShareConsumerClient,
    ShareConsumerClientFactory,
)
from django_sharegroups.instrumentation import EventBus  # noqa: E402
from django_sharegroups.instrumentation.counts import EventCounts  # noqa: E402
from django_sharegroups.routing import RouteRegistry  # noqa: E402
from django_sharegroups.routing.settings import GroupSettings  # noqa: E402
from django_sharegroups.runtime.listener import ShareGroupListener  # noqa: E402
from django_sharegroups.runtime.preflight import GroupLimits  # noqa: E402
from django_sharegroups.runtime.runner import tune_collector  # noqa: E402

VALUES = [json.dumps({"n": n, "pad": "x" * 70}).encode() for n in range(1000)]
CAPABILITIES = {
    "confluent": frozenset(),
    "native": frozenset(
        {Capability.RENEW, Capability.HOLD_ACROSS_POLLS, Capability.STRICT_RECORD_LIMIT}
    ),
}


class StandIn(ShareConsumerClient):
    """Hands out records built from ready bytes; counts acknowledgements."""

    name = "stand-in"

    def __init__(self) -> None:
        self.next_offset, self.acknowledged, self.topic = 0, 0, ""

    def subscribe(self, topics: list[str]) -> None:  # type: ignore[override]
        self.topic = topics[0]

    def poll(self, max_records: int, timeout: float) -> list[ReceivedRecord]:
        first, topic = self.next_offset, self.topic
        self.next_offset += max_records
        return [
            ReceivedRecord(topic, n % 3, first + n, None, VALUES[n % 1000], (), 1, 1, None)
            for n in range(max_records)
        ]

    def acknowledge(self, record: ReceivedRecord, ack_type: AcknowledgeType) -> None:
        self.acknowledged += 1

    def commit_sync(self, timeout: float) -> list[AcknowledgementFailure]:
        return []

    def commit_async(self) -> None:
        pass

    def acquisition_lock_timeout_ms(self) -> int | None:
        return 30_000

    def close(self) -> None:
        pass


class StandInFactory(ShareConsumerClientFactory):
    def __init__(self, capabilities: frozenset[Capability]) -> None:
        self.client_class = type("StandInClient", (StandIn,), {"capabilities": capabilities})

    def create(
        self, group_id: str, *, client_id: str, overrides: Mapping[str, Any] | None = None
    ) -> ShareConsumerClient:
        return self.client_class()


def one_round(args: argparse.Namespace, profile: bool = False) -> float:
    """CPU µs per record of consuming ``args.records`` records."""
    done, stop = [0], threading.Event()

    class NoOp(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                self.mark_accepted(message)
            done[0] += len(messages)
            if done[0] >= args.records:
                stop.set()

    declared = share_group(
        "hot-path",
        topics=[
            route(
                "hot-path",
                consumer=NoOp,
                jobs_builder=args.builder,
                max_messages_per_job=args.per_job,
                deserializer=args.deserializer,
            )
        ],
        workers_per_consumer=args.workers,
        registry=RouteRegistry(),
    )
    bus = EventBus()
    if args.counts:
        EventCounts().subscribe(bus)
    listener = ShareGroupListener(
        GroupSettings.build(declared),
        0,
        StandInFactory(CAPABILITIES[args.adapter]),
        stop_event=stop,
        bus=bus,
        poll_timeout=0.1,
        commit_timeout=1.0,
        limits=GroupLimits(30_000, 5),
    )
    gc.freeze()  # as the runner does after startup
    tune_collector()
    cpu = time.process_time()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(listener.run)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    else:
        listener.start()
        listener.join()
    if listener.failure is not None:
        raise listener.failure
    return (time.process_time() - cpu) / done[0] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--builder", default="per_batch")
    parser.add_argument("--per-job", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--deserializer", default="json", choices=("json", "raw"))
    parser.add_argument("--adapter", default="confluent", choices=sorted(CAPABILITIES))
    parser.add_argument(
        "--counts", action="store_true", help="subscribe runshareconsumers' event counts"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile one more round")
    args = parser.parse_args()
    rounds = [one_round(args) for _ in range(args.rounds)]
    print(
        f"{args.builder}({args.per_job}), {args.adapter} stand-in, {args.deserializer}"
        f"{', event counts' if args.counts else ''}: "
        f"{statistics.median(rounds):.2f} CPU µs per record (median; rounds "
        f"{', '.join(f'{r:.2f}' for r in rounds)}), load average {os.getloadavg()[0]:.1f}"
    )
    if args.profile:
        one_round(args, profile=True)


if __name__ == "__main__":
    main()
