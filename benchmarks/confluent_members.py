"""The ``confluent`` adapter with 1, 2 or 3 librdkafka members per share consumer, against the
hand-written loop: a measurement aid for ``SHAREGROUPS["CONFLUENT_MEMBERS"]``, not a goal.

``python -m benchmarks.confluent_members [--records 200000] [--rounds 4] [--members 1,2,3]
[--builder per_batch] [--kafka-port 19540]``

The backlog (3 partitions, 100-byte JSON records) is produced once; each round runs the loop,
then ``runshareconsumers`` with a no-op consumer once per member count (the order of the
member counts reverses every other round), each on a fresh share group. It prints every run,
then per member count the median records/s and the median of the per-round ratios to the
loop. Results are summarised by hand in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics

from .harness import Bench, Contender
from .throughput import describe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--members", default="1,2,3", help="member counts to compare")
    parser.add_argument("--builder", choices=("per_batch", "per_message"), default="per_batch")
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--kafka-port", type=int, default=19540)
    args = parser.parse_args()
    counts = [int(m) for m in args.members.split(",")]
    route = {
        "consumer": "noop",
        "builder": args.builder,
        "per_job": 500 if args.builder == "per_batch" else 1,
    }
    loop = Contender("loop", "loop")
    engines = {
        m: Contender(f"{m} member(s)", "engine", "confluent", {**route, "confluent_members": m})
        for m in counts
    }
    rates: dict[str, list[float]] = {"loop": [], **{str(m): [] for m in counts}}
    bench = Bench(args.bootstrap, args.kafka_port)
    try:
        topic = bench.topic(3)
        bench.produce_backlog(topic, args.records)
        for number in range(args.rounds):
            order = counts if number % 2 == 0 else counts[::-1]
            for name, contender in [("loop", loop), *((str(m), engines[m]) for m in order)]:
                outcome = bench.measure(contender, topic, args.records, 12.0)
                rates[name].append(outcome.rate or 0.0)
                print(f"round {number + 1}: {describe(contender.name, outcome)}", flush=True)
    finally:
        bench.close()
    print(f"loop: {statistics.median(rates['loop']):,.0f} records/s (median)")
    for m in counts:
        ratios = [
            rate / reference for rate, reference in zip(rates[str(m)], rates["loop"], strict=True)
        ]
        print(
            f"{args.builder}, {m} member(s): {statistics.median(rates[str(m)]):,.0f} records/s, "
            f"{statistics.median(ratios):.2f}x the loop (rounds "
            f"{', '.join(f'{r:.2f}' for r in ratios)})"
        )


if __name__ == "__main__":
    main()
