"""Flow and scaling on the in-memory broker: worker pools, jobs builders, priority, throttle."""

from __future__ import annotations

import threading
import time
from itertools import pairwise

from django_sharegroups import ShareGroupConsumer
from django_sharegroups.instrumentation import EventBus
from django_sharegroups.processing.acquisition import MAX_RECORDS_PER_POLL_RENEWING

from ..helpers import (
    declare,
    events_of,
    poll_stamps,
    prepare,
    produce,
    recording_consumer,
    running,
    wait_until,
)


def test_worker_pool_runs_jobs_in_parallel_and_accepts_each_record_once(broker):
    prepare(broker, "pool", partitions=3)
    produce(broker, "pool", ({"n": i} for i in range(400)))
    active = {"now": 0, "max": 0}
    lock = threading.Lock()
    seen = []

    class Slow(ShareGroupConsumer):
        def consume(self, messages):
            with lock:
                active["now"] += 1
                active["max"] = max(active["max"], active["now"])
            time.sleep(0.002)
            for message in messages:
                with lock:
                    seen.append((message.partition, message.offset, threading.get_ident()))
                self.mark_accepted(message)
            with lock:
                active["now"] -= 1

    with running([declare("pool", Slow, workers_per_consumer=4)], broker):
        assert wait_until(lambda: len(seen) >= 400, timeout=30)
    assert len({(p, o) for p, o, _ in seen}) == len(seen) == 400
    assert active["max"] == 4  # never more than the pool, and the pool was used
    assert len({thread for *_, thread in seen}) == 4
    assert sum(broker.share_group_offsets("pool")[("pool", p)].lag for p in range(3)) == 0


def test_polls_start_at_free_worker_capacity_and_grow_while_jobs_are_fast(broker):
    prepare(broker, "capacity")
    produce(broker, "capacity", ({"n": i} for i in range(600)))
    bus = EventBus()
    polls = events_of(bus, "poll")
    sized = events_of(bus, "acquisition.sized")
    seen = recording_consumer()
    group = declare(
        "capacity",
        seen,
        workers_per_consumer=3,
        topic_options={"jobs_builder": "per_batch", "max_messages_per_job": 5},
    )
    with running([group], broker, bus=bus):
        assert wait_until(lambda: len(seen.seen) >= 600, timeout=30)
    assert polls[0]["asked"] <= 15  # one job per free worker before any job was timed
    assert all(p["records"] <= p["asked"] <= MAX_RECORDS_PER_POLL_RENEWING for p in polls)
    assert max(p["asked"] for p in polls) > 15  # fast jobs: polls cover several jobs per worker
    assert sized[0]["records"] == 15 and sized[0]["ms_per_record"] is None
    assert len(sized) >= 2  # reported again once the allowance grew a lot


def test_per_key_jobs_never_mix_keys_and_per_partition_jobs_carry_partition_metadata(broker):
    prepare(broker, "keys", partitions=2)
    for key in (b"a", b"b", b"c"):
        produce(broker, "keys", ({"n": i} for i in range(10)), key=key)
    jobs = []

    class Keyed(ShareGroupConsumer):
        def consume(self, messages):
            jobs.append(("key", {m.key for m in messages}, messages.metadata))
            for message in messages:
                self.mark_accepted(message)

    class Partitioned(Keyed):
        def consume(self, messages):
            jobs.append(("partition", {m.partition for m in messages}, messages.metadata))
            for message in messages:
                self.mark_accepted(message)

    by_key = declare(
        "keys", Keyed, topic_options={"jobs_builder": "per_key", "max_messages_per_job": 50}
    )
    by_partition = declare(
        "keys",
        Partitioned,
        topic_options={"jobs_builder": "per_partition", "max_messages_per_job": 50},
    )
    by_partition.name = "keys-by-partition"
    broker.alter_group_config("keys-by-partition", {"share.auto.offset.reset": "earliest"})
    with running([by_key, by_partition], broker):
        assert wait_until(lambda: sum(m.size for _, _, m in jobs) >= 60, timeout=30), jobs
    assert all(len(values) == 1 for _, values, _ in jobs)
    key_jobs = [m for kind, _, m in jobs if kind == "key"]
    partition_jobs = [(values, m) for kind, values, m in jobs if kind == "partition"]
    assert sum(m.size for m in key_jobs) == 30
    assert all(m.partition is None and m.first_offset is None for m in key_jobs)
    for (partition,), metadata in partition_jobs:
        assert metadata.partition == partition
        assert metadata.first_offset <= metadata.last_offset
    assert all(m.topic == "keys" and m.processing_lag_ms >= 0 for _, _, m in jobs)


def test_background_priority_sleeps_between_polls(broker):
    prepare(broker, "eager")
    prepare(broker, "slow-lane")
    bus = EventBus()
    stamps = poll_stamps(bus)
    eager_seen, background_seen = recording_consumer(), recording_consumer()
    eager = declare("eager", eager_seen, priority="high")
    background = declare("slow-lane", background_seen, priority="background")
    with running([eager, background], broker, bus=bus):
        for _ in range(10):
            produce(broker, "eager", [{}])
            produce(broker, "slow-lane", [{}])
        assert wait_until(lambda: len(background_seen.seen) == 10, timeout=30)
        assert wait_until(lambda: len(eager_seen.seen) == 10, timeout=30)
    background_at = [at for at, group, _ in stamps if group == "slow-lane"]
    eager_at = [at for at, group, _ in stamps if group == "eager"]
    # background waits 500 ms after every poll (a loaded machine only makes the gaps longer);
    # high priority polls again at once.
    assert len(background_at) >= 2
    assert min(b - a for a, b in pairwise(background_at)) >= 0.49
    assert min(b - a for a, b in pairwise(eager_at)) < 0.49


def test_throttle_caps_records_per_interval(broker):
    prepare(broker, "throttled")
    produce(broker, "throttled", ({"n": i} for i in range(25)))
    bus = EventBus()
    polls = events_of(bus, "poll")
    stamps = poll_stamps(bus)
    seen = recording_consumer()
    group = declare(
        "throttled",
        seen,
        throttle={"limit": 10, "interval": 300},
        topic_options={"jobs_builder": "per_batch", "max_messages_per_job": 25},
    )
    started = time.monotonic()
    with running([group], broker, bus=bus):
        assert wait_until(lambda: len(seen.seen) >= 25, timeout=30)
        finished = time.monotonic()
    assert finished - started >= 0.6  # 25 records at 10 per 300 ms need three windows
    assert max(p["asked"] for p in polls) == 10
    # Window k starts at least k × 300 ms after ``started`` and a stamp comes after its poll,
    # so by any stamp at most 10 × (windows begun) records may have come — whatever the load.
    received = 0
    for at, _, records in stamps:
        received += records
        assert received <= 10 * (int((at - started) / 0.3) + 1)
