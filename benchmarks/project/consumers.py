"""The share group `runshareconsumers` runs for the benchmark, described by ``BENCH_RUN``.

``BENCH_RUN`` is JSON: ``group``, ``topic``, ``consumer`` (a key of CONSUMERS), ``builder``,
``per_job``, ``concurrency``, ``workers``, ``job_ms``, and for the Tally ``result``, ``target``
and ``budget``. Without it (``manage.py migrate``), or for another
``kind``, nothing is declared.
"""

from __future__ import annotations

import json
import os
import time

from django_sharegroups import ShareGroupConsumer, share_group, topic

from .tally import Tally

SPEC = json.loads(os.environ.get("BENCH_RUN") or "null")
#: The hand-written contenders set BENCH_RUN too (kind "loop", ...) and declare nothing here.
RUN = SPEC if SPEC and SPEC["kind"] == "engine" else None
TALLY = (
    Tally(RUN["result"], RUN["target"], RUN["budget"], completions=RUN["consumer"] == "sleep")
    if RUN
    else None
)


class Noop(ShareGroupConsumer):
    """Accepts every record and does nothing else: all the time spent is the engine's."""

    def consume(self, messages):
        TALLY.begin()
        for message in messages:
            self.mark_accepted(message)
        TALLY.add(len(messages))

    def shutdown(self):
        TALLY.finish()


class Live(Noop):
    """Noop that reads each record's produce time from its JSON payload (``ts``)."""

    def consume(self, messages):
        for message in messages:
            self.mark_accepted(message)
        TALLY.add(len(messages), [m.payload["ts"] for m in messages if "ts" in m.payload])


class Sleeper(Noop):
    """An I/O-bound job: waits ``job_ms`` (a web request, say), then accepts."""

    def consume(self, messages):
        TALLY.begin()
        time.sleep(RUN["job_ms"] / 1000)
        super().consume(messages)


class Orm(ShareGroupConsumer):
    """Idempotent: one Delivery row per record, ProcessedRecord rows in the same transaction."""

    idempotent = True

    def consume(self, messages):
        from .models import Delivery

        TALLY.begin()
        for message in messages:
            Delivery.objects.create(
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                number=message.payload["n"],
            )
            self.mark_accepted(message)
        TALLY.add(len(messages))

    def shutdown(self):
        TALLY.finish()


CONSUMERS = {"noop": Noop, "live": Live, "sleep": Sleeper, "orm": Orm}

if RUN:
    share_group(
        RUN["group"],
        concurrency=RUN.get("concurrency", 1),
        workers_per_consumer=RUN.get("workers", 1),
        topics=[
            topic(
                RUN["topic"],
                consumer=CONSUMERS[RUN["consumer"]],
                jobs_builder=RUN["builder"],
                max_messages_per_job=RUN.get("per_job", 1),
            )
        ],
    )
