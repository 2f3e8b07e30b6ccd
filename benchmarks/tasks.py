"""Tasks benchmark: no-op tasks per second, ShareGroupsBackend vs django-tasks-db, side by side.

``python -m benchmarks.tasks [--tasks 2000] [--rounds 3] [--workers 4] [--tasks-per-job 1]
[--bootstrap HOST:PORT]``

Needs Kafka 4.4 and ``DATABASE_URL`` naming PostgreSQL (a throwaway database
``sharegroups_bench_<pid>`` is made next to it). Per round and contender, ``--tasks`` no-op
tasks are enqueued first (enqueue rate measured), then ``--workers`` worker threads run them;
the run rate is from the first task's run to the last one's. Contenders, alternating:

- ``sharegroups``: ShareGroupsBackend on Kafka (confluent adapter), results in PostgreSQL;
- ``sharegroups, no results``: the same without the results model;
- ``django-tasks-db``: django_tasks_db.DatabaseBackend, ``db_worker``'s Worker in threads;
- ``confluent loop``: the reference, a hand-written ``confluent_kafka.ShareConsumer`` loop per
  thread that runs each task record's function and ACCEPTs it (no results).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import threading
import time

import django

os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.tasks_settings"
django.setup()

from confluent_kafka import AcknowledgeType, ShareConsumer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402
from django_tasks import task_backends  # noqa: E402
from django_tasks_db.management.commands.db_worker import Worker  # noqa: E402

from django_sharegroups.conf import ShareGroupsSettings  # noqa: E402
from django_sharegroups.routing import RouteRegistry  # noqa: E402
from django_sharegroups.runtime.runner import ShareConsumerRunner  # noqa: E402
from django_sharegroups.tasks.backend import ShareGroupsBackend  # noqa: E402
from django_sharegroups.tasks.envelope import TaskEnvelope  # noqa: E402
from tests.services import kafka as kafka_service  # noqa: E402

from .report import write_section  # noqa: E402
from .task_functions import CLOCK, noop  # noqa: E402

CONTENDERS = ("sharegroups", "sharegroups, no results", "django-tasks-db", "confluent loop")
PARTITIONS = 4


def wait_for_runs(total: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while CLOCK.runs < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {CLOCK.runs} of {total} tasks ran within {timeout}s")
        time.sleep(0.01)


def enqueue(backend, task, total: int) -> float:
    """Enqueue ``total`` no-op tasks from this thread; tasks per second."""
    started = time.perf_counter()
    for _ in range(total):
        backend.enqueue(task, (), {})
    return total / (time.perf_counter() - started)


def fresh_topic(admin: AdminClient) -> str:
    name = kafka_service.unique_name("bench-tasks")
    admin.create_topics([NewTopic(name, PARTITIONS, 1)])[name].result(30)
    kafka_service.alter_share_group_config(admin, name, {"share.auto.offset.reset": "earliest"})
    return name


def run_sharegroups(alias: str, args, admin: AdminClient) -> tuple[float, float]:
    topic = fresh_topic(admin)
    params = {
        **settings.TASKS[alias],
        "OPTIONS": {
            **settings.TASKS[alias]["OPTIONS"],
            "queues": {
                "default": {
                    "topic": topic,
                    "concurrency": args.workers,
                    "tasks_per_job": args.tasks_per_job,
                }
            },
        },
    }
    backend = ShareGroupsBackend(alias, params)
    task = noop.using(backend=alias)
    enqueue_rate = enqueue(backend, task, args.tasks)
    groups = backend.share_groups(RouteRegistry())
    runner = ShareConsumerRunner(
        groups,
        settings=ShareGroupsSettings(client="confluent", kafka=kafka_config(args)),
    )
    runner.start()
    try:
        wait_for_runs(args.tasks, timeout=600)
    finally:
        runner.shutdown()
    return enqueue_rate, run_rate(args.tasks)


def run_db(args) -> tuple[float, float]:
    task = noop.using(backend="db")
    enqueue_rate = enqueue(task_backends["db"], task, args.tasks)

    def work(index: int) -> None:
        try:
            Worker(
                queue_names=["default"],
                interval=0.0,
                batch=True,
                backend_name="db",
                startup_delay=False,
                max_tasks=None,
                worker_id=f"bench-{index}",
                excluded_queue_names=[],
            ).run()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_for_runs(args.tasks, timeout=10)
    return enqueue_rate, run_rate(args.tasks)


def run_confluent_loop(args, admin: AdminClient) -> tuple[float, float]:
    """The reference: what a hand-written share-consumer worker does with the same records."""
    topic = fresh_topic(admin)
    params = {
        **settings.TASKS["sharegroups_no_results"],
        "OPTIONS": {
            **settings.TASKS["sharegroups_no_results"]["OPTIONS"],
            "queues": {"default": {"topic": topic}},
        },
    }
    backend = ShareGroupsBackend("sharegroups_no_results", params)
    enqueue_rate = enqueue(backend, noop.using(backend="sharegroups_no_results"), args.tasks)
    stop = threading.Event()

    def loop() -> None:
        consumer = ShareConsumer(
            {**kafka_config(args), "group.id": topic, "share.acknowledgement.mode": "explicit"}
        )
        consumer.subscribe([topic])
        try:
            while not stop.is_set():
                for message in consumer.poll(0.1):
                    if message.error():
                        continue
                    envelope = TaskEnvelope.from_payload(json.loads(message.value()))
                    import_string(envelope.task).call(*envelope.args, **envelope.kwargs)
                    consumer.acknowledge(message, AcknowledgeType.ACCEPT)
        finally:
            consumer.close()

    threads = [threading.Thread(target=loop) for _ in range(args.workers)]
    for thread in threads:
        thread.start()
    try:
        wait_for_runs(args.tasks, timeout=600)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return enqueue_rate, run_rate(args.tasks)


def run_rate(total: int) -> float:
    return (total - 1) / (CLOCK.last - CLOCK.first)


def kafka_config(args) -> dict:
    return {"bootstrap.servers": args.bootstrap}


def isolated_database() -> None:
    if connection.vendor != "postgresql":
        raise SystemExit("benchmarks.tasks compares against a database backend on PostgreSQL: "
                         "set DATABASE_URL to a postgres:// URL")  # fmt: skip
    database = settings.DATABASES["default"]
    database["TEST"]["NAME"] = f"sharegroups_bench_{os.getpid()}"
    database["CONN_MAX_AGE"] = 600  # persistent connections, as a worker process runs
    connection.creation.create_test_db(verbosity=0, autoclobber=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--tasks-per-job", type=int, default=1)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    old_name = settings.DATABASES["default"]["NAME"]
    isolated_database()
    admin = AdminClient(kafka_config(args))
    runners = {
        "sharegroups": lambda: run_sharegroups("sharegroups", args, admin),
        "sharegroups, no results": lambda: run_sharegroups("sharegroups_no_results", args, admin),
        "django-tasks-db": lambda: run_db(args),
        "confluent loop": lambda: run_confluent_loop(args, admin),
    }
    rates: dict[str, list[tuple[float, float]]] = {name: [] for name in CONTENDERS}
    sharegroups = {"CLIENT": "confluent", "KAFKA": kafka_config(args)}
    try:
        with override_settings(SHAREGROUPS=sharegroups):
            for round_number in range(args.rounds):
                order = CONTENDERS if round_number % 2 == 0 else tuple(reversed(CONTENDERS))
                for name in order:
                    CLOCK.reset()
                    enqueue_rate, rate = runners[name]()
                    rates[name].append((enqueue_rate, rate))
                    print(f"{name:26} enqueue {enqueue_rate:7.0f}/s  run {rate:7.0f}/s", flush=True)
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    report(args, rates)


def report(args, rates: dict[str, list[tuple[float, float]]]) -> None:
    medians = {name: statistics.median(r for _, r in runs) for name, runs in rates.items()}
    rows = [
        f"| {name} | {statistics.median(e for e, _ in runs):,.0f} | {medians[name]:,.0f} | "
        f"{', '.join(f'{r:,.0f}' for _, r in runs)} |"
        for name, runs in rates.items()
    ]
    db = medians["django-tasks-db"]
    write_section(
        "tasks",
        f"""## Tasks: ShareGroupsBackend vs django-tasks-db

`python -m benchmarks.tasks --tasks {args.tasks} --rounds {args.rounds} --workers
{args.workers} --tasks-per-job {args.tasks_per_job}`: no-op tasks, Kafka 4.4 at
{args.bootstrap} (topics of {PARTITIONS} partitions), PostgreSQL; {args.workers} worker
threads per contender; contenders alternate each round. Enqueue rate from one thread; run
rate from the first task's run to the last one's (tasks/s, median of {args.rounds}).

| contender | enqueue/s | run/s (median) | run/s per round |
| --- | --- | --- | --- |
{chr(10).join(rows)}

Run rate against django-tasks-db (`DatabaseBackend` + `db_worker`'s Worker): sharegroups
**{medians["sharegroups"] / db:.2f}×** with results,
**{medians["sharegroups, no results"] / db:.2f}×** without; the hand-written confluent loop
(reference, no results) **{medians["confluent loop"] / db:.2f}×**.

The reference acknowledges whole polls of records in a loop; the backend runs one task per job
(`tasks_per_job` 1) with a poll per task per consumer thread on the `confluent` adapter, and
with results it writes the result row twice per run (RUNNING, then SUCCESSFUL) after reading
it. `--tasks-per-job 20` lets a job run up to 20 tasks of a poll. Enqueueing waits until the
broker stored the record (one idempotent producer per process), so its rate is one broker
round trip per task from one thread; django-tasks-db's is one INSERT.
""",
    )


if __name__ == "__main__":
    main()
