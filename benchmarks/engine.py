"""Engine benchmarks: worker pool speed-up and priority (poll-rate) ratio.

``python -m benchmarks.engine [--records 1000] [--job-ms 20] [--rounds 3]``

Worker pool: the same records, each job sleeping ``--job-ms``, consumed with
``workers_per_consumer`` 1 and 4, alternating ``--rounds`` times; the goal is that 4 workers
need < 40 % of the sequential wall time. On the in-memory broker by default, on real Kafka
when ``KAFKA_BOOTSTRAP_SERVERS`` is set. Priority: an eager (``high``) and a ``background``
group consume the same steady stream for a few seconds; the ratio of their poll counts is
what the 500 ms background interval promises.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
import uuid

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django_sharegroups import ShareGroupConsumer  # noqa: E402
from django_sharegroups.clients.memory import MemoryBroker, MemoryClientFactory  # noqa: E402
from django_sharegroups.conf import ShareGroupsSettings  # noqa: E402
from django_sharegroups.instrumentation import EventBus  # noqa: E402
from django_sharegroups.runtime.runner import ShareConsumerRunner  # noqa: E402
from tests.helpers import declare, wait_until  # noqa: E402

from .report import write_section  # noqa: E402


class Backend:
    """Where the benchmark's share groups run: memory, or Kafka at KAFKA_BOOTSTRAP_SERVERS."""

    def __init__(self) -> None:
        self.bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        self.broker = None if self.bootstrap else MemoryBroker()
        self.name = f"Kafka at {self.bootstrap}" if self.bootstrap else "in-memory broker"

    def topic(self, partitions: int) -> str:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        if self.broker:
            self.broker.create_topic(name, partitions)
            self.broker.alter_group_config(name, {"share.auto.offset.reset": "earliest"})
            return name
        from confluent_kafka.admin import (
            AdminClient,
            AlterConfigOpType,
            ConfigEntry,
            ConfigResource,
            NewTopic,
            ResourceType,
        )

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)
        entry = ConfigEntry(
            "share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET
        )
        resource = ConfigResource(ResourceType.GROUP, name, incremental_configs=[entry])
        for future in admin.incremental_alter_configs([resource]).values():
            future.result(30)
        return name

    def produce(self, topic: str, count: int) -> None:
        if self.broker:
            for n in range(count):
                self.broker.produce(topic, json.dumps({"n": n}).encode())
            return
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        for n in range(count):
            producer.produce(topic, json.dumps({"n": n}).encode())
        producer.flush(30)

    def runner(self, groups, bus: EventBus) -> ShareConsumerRunner:
        if self.broker:
            return ShareConsumerRunner(
                groups,
                settings=ShareGroupsSettings(client="memory", poll_timeout=0.05),
                factories={"memory": MemoryClientFactory(self.broker)},
                bus=bus,
            )
        return ShareConsumerRunner(
            groups,
            settings=ShareGroupsSettings(
                client="confluent", kafka={"bootstrap.servers": self.bootstrap}
            ),
            bus=bus,
        )


def sleeping_consumer(job_seconds: float, done: list):
    lock = threading.Lock()

    class Sleeper(ShareGroupConsumer):
        def consume(self, messages):
            time.sleep(job_seconds)
            for message in messages:
                self.mark_accepted(message)
            with lock:
                done.append(len(messages))

    return Sleeper


def time_workers(backend: Backend, workers: int, records: int, job_ms: int) -> float:
    name = backend.topic(partitions=3)
    backend.produce(name, records)
    done: list[int] = []
    group = declare(name, sleeping_consumer(job_ms / 1000, done), workers_per_consumer=workers)
    runner = backend.runner([group], EventBus())
    started = time.monotonic()
    runner.start()
    try:
        assert wait_until(lambda: sum(done) >= records, timeout=600), sum(done)
        return time.monotonic() - started
    finally:
        runner.shutdown()


def poll_counts(seconds: float) -> tuple[int, int]:
    backend = Backend.__new__(Backend)
    backend.bootstrap, backend.broker, backend.name = None, MemoryBroker(), "in-memory broker"
    eager_topic, background_topic = backend.topic(1), backend.topic(1)
    bus = EventBus()
    counts = {eager_topic: 0, background_topic: 0}
    bus.subscribe(
        "poll", lambda e, p: counts.__setitem__(p["share_group"], counts[p["share_group"]] + 1)
    )
    done: list[int] = []
    groups = [
        declare(eager_topic, sleeping_consumer(0, done), priority="high"),
        declare(background_topic, sleeping_consumer(0, done), priority="background"),
    ]
    runner = backend.runner(groups, bus)
    runner.start()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:  # a steady stream for both groups
            backend.produce(eager_topic, 5)
            backend.produce(background_topic, 5)
            time.sleep(0.01)
    finally:
        runner.shutdown()
    return counts[eager_topic], counts[background_topic]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--job-ms", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--priority-seconds", type=float, default=5.0)
    args = parser.parse_args()
    backend = Backend()
    times: dict[int, list[float]] = {1: [], 4: []}
    for _ in range(args.rounds):
        for workers in (1, 4):
            times[workers].append(time_workers(backend, workers, args.records, args.job_ms))
            print(f"workers_per_consumer={workers}: {times[workers][-1]:.2f} s", flush=True)
    one, four = statistics.median(times[1]), statistics.median(times[4])
    eager, background = poll_counts(args.priority_seconds)
    print(f"polls in {args.priority_seconds:.0f} s: eager {eager}, background {background}")
    write_section(
        "engine",
        f"""## Engine: worker pool and priority

Worker pool, {backend.name}: {args.records} records, each job sleeping {args.job_ms} ms, one
consumer instance; median of {args.rounds} alternating rounds.

| workers_per_consumer | wall time (median) | runs |
| --- | --- | --- |
| 1 | {one:.2f} s | {", ".join(f"{t:.2f}" for t in times[1])} |
| 4 | {four:.2f} s | {", ".join(f"{t:.2f}" for t in times[4])} |

4 workers need **{four / one:.0%}** of the sequential time (goal: < 40 %).

Priority, in-memory broker, steady stream for {args.priority_seconds:.0f} s: the eager (`high`,
0 ms) group polled {eager} times, the `background` (500 ms) group {background} times: a ratio
of **{eager / max(background, 1):.0f} : 1** (background polls at most 2 times a second).
""",
    )


if __name__ == "__main__":
    main()
