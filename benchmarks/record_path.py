"""Where a no-op consumer's time goes: the per-record path of ``runshareconsumers``.

``python -m benchmarks.record_path [--records 100000] [--client confluent] [--bootstrap HOST:PORT]
[--profile out.txt] [--gc-freeze] [--deserializer json|raw] [--builder per_batch|per_message]``

Produces ``--records`` JSON records of ~100 bytes (3 partitions) once, then one share group
(``per_batch``, 500 records per job, or ``per_message``; one instance) whose consumer ACCEPTs every
message without reading its payload consumes the backlog. Prints records/s and process CPU µs per
record. With ``--profile FILE`` the run is sampled by py-spy (``pip install py-spy``) and the
listener thread's hot spots (own time per function, share of the thread's samples) are printed and
written to FILE. py-spy charges a garbage collection to the line that allocated, so compare
profiles with ``--gc-freeze`` (startup objects frozen) to see the per-record work itself.
Needs Kafka (``--bootstrap``, default ``KAFKA_BOOTSTRAP_SERVERS``).
This is a profiling aid, not a goal: ``benchmarks.throughput`` compares contenders.
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import subprocess
import sys
import threading
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django_sharegroups import ShareGroupConsumer, share_group  # noqa: E402
from django_sharegroups import topic as route  # noqa: E402
from django_sharegroups.conf import ShareGroupsSettings  # noqa: E402
from django_sharegroups.instrumentation import EventBus  # noqa: E402
from django_sharegroups.routing import RouteRegistry  # noqa: E402
from django_sharegroups.runtime.runner import ShareConsumerRunner  # noqa: E402
from tests.helpers import wait_until  # noqa: E402

from .native_vs_confluent import Kafka  # noqa: E402


class GcClock:
    """Wall time spent in the garbage collector (all threads), from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.seconds, self.collections, self._started = 0.0, 0, 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections += 1


def consume_backlog(
    kafka: Kafka,
    topic: str,
    records: int,
    client: str,
    deserializer: str = "json",
    builder: str = "per_batch",
) -> tuple[float, float, GcClock]:
    """Seconds of wall time and of process CPU until the backlog is consumed, and GC time."""
    done = [0]
    lock = threading.Lock()

    class NoOp(ShareGroupConsumer):
        def consume(self, messages):
            for message in messages:
                self.mark_accepted(message)
            with lock:
                done[0] += len(messages)

    group = kafka.group()
    declared = share_group(
        group,
        topics=[
            route(
                topic,
                consumer=NoOp,
                jobs_builder=builder,
                max_messages_per_job=500 if builder == "per_batch" else 1,
                deserializer=deserializer,
            )
        ],
        registry=RouteRegistry(),
    )
    runner = ShareConsumerRunner(
        [declared],
        settings=ShareGroupsSettings(client=client, kafka={"bootstrap.servers": kafka.bootstrap}),
        bus=EventBus(),
    )
    runner.start()
    try:
        assert wait_until(lambda: done[0] > 0, timeout=60), "no record consumed"
        wall, cpu, gc_clock = time.monotonic(), time.process_time(), GcClock()
        first = done[0]
        assert wait_until(lambda: done[0] >= records, timeout=900, interval=0.01), done[0]
        scale = records / (records - first)
        gc.callbacks.remove(gc_clock._on_gc)
        return (time.monotonic() - wall) * scale, (time.process_time() - cpu) * scale, gc_clock
    finally:
        runner.shutdown()


def hot_spots(raw: str, thread: str = "sharegroups:") -> list[tuple[str, float, float]]:
    """Per function of the listener thread: share of its samples spent in the function itself
    and in the function or below it (py-spy's collapsed stacks, most inclusive first)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not stack or thread not in frames[0]:
            continue
        names = [_function(frame) for frame in frames[1:]]
        total += int(count)
        own[names[-1]] += int(count)
        for name in set(names):
            inclusive[name] += int(count)
    total = total or 1
    return [(name, own[name] / total, n / total) for name, n in inclusive.most_common(40)]


def _function(frame: str) -> str:
    """``Class.method (path/file.py:12)`` -> ``Class.method (file.py)``."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1].split(':')[0]})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--client", default="confluent", choices=("confluent", "native"))
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--profile", help="sample with py-spy and write the hot spots here")
    parser.add_argument("--deserializer", default="json", choices=("json", "raw"))
    parser.add_argument("--builder", default="per_batch", choices=("per_batch", "per_message"))
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() before consuming (what it saves)"
    )
    parser.add_argument("--topic", help=argparse.SUPPRESS)  # set by the profiling parent
    args = parser.parse_args()
    if not args.bootstrap:
        parser.error("needs Kafka: --bootstrap or KAFKA_BOOTSTRAP_SERVERS")
    kafka = Kafka(args.bootstrap)
    topic = args.topic
    if topic is None:
        topic = kafka.topic(3)
        kafka.produce(topic, args.records)
    if args.profile:
        raw = args.profile + ".raw"
        child = [sys.executable, "-m", "benchmarks.record_path", "--topic", topic]
        child += ["--records", str(args.records), "--client", args.client]
        child += ["--bootstrap", args.bootstrap, "--deserializer", args.deserializer]
        child += ["--builder", args.builder]
        child += ["--gc-freeze"] if args.gc_freeze else []
        command = ["py-spy", "record", "--threads", "--format", "raw", "-r", "200", "-o", raw]
        subprocess.run([*command, "--", *child], check=True)
        with open(raw) as stacks, open(args.profile, "w") as out:
            print("  own  total  function (listener thread)", file=out)
            for name, share, below in hot_spots(stacks.read()):
                print(f"{share:5.1%} {below:6.1%}  {name}", file=out)
        print(open(args.profile).read())
        return
    if args.gc_freeze:
        gc.freeze()  # what the startup objects cost every full collection
    wall, cpu, gc_clock = consume_backlog(
        kafka, topic, args.records, args.client, args.deserializer, args.builder
    )
    print(
        f"{args.builder}, {args.client}, {args.deserializer}"
        f"{', gc frozen' if args.gc_freeze else ''}: "
        f"{args.records / wall:,.0f} records/s, "
        f"{cpu / args.records * 1e6:.1f} CPU µs per record (process), "
        f"GC {gc_clock.seconds / wall:.1%} of the wall time ({gc_clock.collections} collections)"
    )


if __name__ == "__main__":
    main()
