"""How much of a librdkafka share consumer's time is the broker's, and what fetching ahead
could win back: a profiling aid for the ``confluent`` adapter, not a goal.

``python -m benchmarks.fetch_overlap [--records 200000] [--rounds 2] [--work-ms 0,3]
[--bootstrap HOST:PORT]``

A hand-written explicit-mode ``confluent_kafka.ShareConsumer`` loop ACCEPTs each record of a
poll and then busy-waits ``--work-ms`` (standing in for what an engine does per poll), in two
ways, alternated on one backlog with a fresh share group per run:

- ``plain``: the next poll follows (librdkafka fetches only inside a poll, so the broker
  starts on the next ShareFetch only then);
- ``ahead``: a ``poll(0)`` right after the ACCEPTs sends them with the next ShareFetch, and
  the work overlaps the broker's.

It prints records/s and the median wait of a poll that returned records. Whatever runs before
the last ACCEPT of a poll cannot overlap this way: in explicit mode librdkafka refuses any poll
while a record of the last one is unacknowledged (``IllegalStateException``), so this measures
the ceiling for work done after them. Results are summarised by hand in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass

from .harness import Bench


@dataclass
class Run:
    mode: str
    work_ms: float
    rate: float
    wait_ms: float
    polls: int


def consume(bench: Bench, topic: str, records: int, mode: str, work_ms: float) -> Run:
    """One fresh share group over the backlog, timed from its first record."""
    from confluent_kafka import AcknowledgeType, ShareConsumer

    consumer = ShareConsumer(
        {
            "bootstrap.servers": bench.bootstrap,
            "group.id": bench.group(),
            "share.acknowledgement.mode": "explicit",
        }
    )
    consumer.subscribe([topic])
    accept, count, waits, first = AcknowledgeType.ACCEPT, 0, [], None
    try:
        while count < records:
            began = time.perf_counter()
            messages = consumer.poll(0.5)
            if not messages:
                continue
            if first is None:
                first = time.perf_counter()
            else:
                waits.append(time.perf_counter() - began)
            for message in messages:
                consumer.acknowledge(message, accept)
            count += len(messages)
            if mode == "ahead":
                for message in consumer.poll(0):  # usually none: they come with the next poll
                    consumer.acknowledge(message, accept)
                    count += 1
            until = time.perf_counter() + work_ms / 1000
            while time.perf_counter() < until:
                pass
        seconds = time.perf_counter() - (first or time.perf_counter())
    finally:
        consumer.close()
    wait = statistics.median(waits) * 1000 if waits else 0.0
    return Run(mode, work_ms, count / seconds if seconds else 0.0, wait, len(waits) + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work-ms", default="0,3", help="busy milliseconds after each poll")
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--kafka-port", type=int, default=19540)
    args = parser.parse_args()
    bench = Bench(args.bootstrap, args.kafka_port)
    try:
        topic = bench.topic(3)
        bench.produce_backlog(topic, args.records)
        works = [float(w) for w in args.work_ms.split(",")]
        runs: list[Run] = []
        for round_ in range(args.rounds):
            modes = ("plain", "ahead") if round_ % 2 == 0 else ("ahead", "plain")
            for work_ms in works:
                for mode in modes:
                    run = consume(bench, topic, args.records, mode, work_ms)
                    runs.append(run)
                    print(
                        f"round {round_ + 1}: {mode:5s} work {work_ms:g} ms: "
                        f"{run.rate:,.0f} records/s, median poll wait {run.wait_ms:.2f} ms, "
                        f"{run.polls} polls",
                        flush=True,
                    )
        for work_ms in works:
            rates = {
                mode: statistics.median(
                    r.rate for r in runs if r.mode == mode and r.work_ms == work_ms
                )
                for mode in ("plain", "ahead")
            }
            print(
                f"work {work_ms:g} ms: plain {rates['plain']:,.0f}, ahead {rates['ahead']:,.0f} "
                f"records/s (median; ahead/plain {rates['ahead'] / rates['plain']:.2f})"
            )
    finally:
        bench.close()


if __name__ == "__main__":
    main()
