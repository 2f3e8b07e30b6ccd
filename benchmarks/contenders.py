"""The hand-written contenders, each run in its own process like `runshareconsumers` is.

``BENCH_RUN='{...}' python -m benchmarks.contenders`` with ``kind`` one of:

- ``loop``: the reference — a ``confluent_kafka.ShareConsumer`` in explicit mode that ACCEPTs
  every record it polls; what a user would write without this package;
- ``native``: the package's native adapter polled directly, as a hand-written loop over it
  would: up to 6,000 records per poll (Kafka's default
  ``group.share.partition.max.record.locks``, 2,000, on each of the benchmark's 3
  partitions), whole producer batches allowed (``acquire_whole_batches``, as librdkafka always
  acquires them), the next poll prefetched while this one's records are ACCEPTed in one
  ``acknowledge_all``; no engine in between;
- ``orm-loop``: ``loop`` doing, per record, the transaction an idempotent consumer does
  (look up ProcessedRecord, write a Delivery row and a ProcessedRecord row).

The rest of the spec is the one benchmarks/project/consumers.py reads; results go through the
same :class:`~benchmarks.project.tally.Tally`. SIGTERM stops a contender cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Iterable

from .project.tally import Tally

#: Records per poll of the ``native`` contender.
POLL_RECORDS = 6000


def confluent_loop(run: dict, tally: Tally, stop: threading.Event, each: Callable | None = None):
    """Poll, ACCEPT each record (after ``each(message)``), count; until done or stopped."""
    from confluent_kafka import AcknowledgeType, ShareConsumer

    consumer = ShareConsumer(
        {
            "bootstrap.servers": run["bootstrap"],
            "group.id": run["group"],
            "share.acknowledgement.mode": "explicit",
        }
    )
    consumer.subscribe([run["topic"]])
    accept = AcknowledgeType.ACCEPT
    try:
        while not (tally.done or stop.is_set()):
            count, stamps = 0, []
            messages = consumer.poll(0.5)
            if messages:
                tally.begin()
            for message in messages:
                if message.error() is not None:
                    continue
                if each is not None:
                    each(message)
                if tally.latency:
                    stamp = json.loads(message.value()).get("ts")
                    if stamp is not None:  # warm-up records have none
                        stamps.append(stamp)
                consumer.acknowledge(message, accept)
                count += 1
            if count:
                tally.add(count, stamps)
        consumer.commit_sync()
    finally:
        consumer.close()


def native_loop(run: dict, tally: Tally, stop: threading.Event) -> None:
    """The native adapter without the engine: poll, ACCEPT all, count."""
    from django_sharegroups.clients.base import AcknowledgeType
    from django_sharegroups.clients.native import NativeClientFactory

    client = NativeClientFactory({"bootstrap.servers": run["bootstrap"]}).create(
        run["group"], client_id="bench-native"
    )
    client.subscribe([run["topic"]])
    client.acquire_whole_batches(True)
    accept = AcknowledgeType.ACCEPT
    try:
        while not (tally.done or stop.is_set()):
            records = client.poll(POLL_RECORDS, 0.5)
            if records:
                tally.begin()
                client.prefetch(POLL_RECORDS)  # the next ShareFetch overlaps this loop
                client.acknowledge_all(records, accept)
                tally.add(len(records))
        client.commit_sync(30)
    finally:
        client.close()


def orm_each(group: str) -> Callable:
    """The per-record transaction of an idempotent consumer, written by hand: the statements
    the engine runs for a one-record job (claim the record's ProcessedRecord row, skip it if
    another delivery has it, write the effect, commit)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.project.settings")
    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from .project.models import Delivery

    claim = (
        'INSERT INTO django_sharegroups_processedrecord (share_group, topic, partition, "offset", '
        "processed_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (share_group, topic, partition, "
        '"offset") DO NOTHING RETURNING 1'
    )

    def each(message) -> None:
        origin = {"topic": message.topic(), "partition": message.partition()}
        origin["offset"] = message.offset()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(claim, [group, *origin.values(), timezone.now()])
                if cursor.fetchone() is None:
                    return  # processed by an earlier delivery
            Delivery.objects.create(number=json.loads(message.value())["n"], **origin)

    return each


def main(argv: Iterable[str] | None = None) -> None:
    run = json.loads(os.environ["BENCH_RUN"])
    tally = Tally(run["result"], run["target"], run["budget"], latency=run.get("latency", False))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if run["kind"] == "loop":
            confluent_loop(run, tally, stop)
        elif run["kind"] == "native":
            native_loop(run, tally, stop)
        elif run["kind"] == "orm-loop":
            confluent_loop(run, tally, stop, orm_each(run["group"]))
        else:
            raise SystemExit(f"unknown contender kind {run['kind']!r}")
    finally:
        tally.finish()


if __name__ == "__main__":
    main()
