"""The acceptance scenarios, written once and run on each broker (test_memory, test_kafka).

Each takes ``start_worker``: a callable returning a context manager that runs the backend's
share groups in this process (what ``runshareconsumers`` runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

from django.db import connection, connections
from django.utils import timezone

from django_sharegroups.tasks.compat import TaskResultStatus
from django_sharegroups.tasks.models import TaskResultRecord

from ..helpers import wait_for
from .jobs import RUNS, add, fail, record

ROOT = Path(__file__).resolve().parents[2]


def succeeded(ids) -> int:
    return TaskResultRecord.objects.filter(id__in=ids, status=TaskResultStatus.SUCCESSFUL).count()


def enqueue_from_threads(total: int, threads: int) -> list[str]:
    """``record.enqueue(key)`` ``total`` times from ``threads`` threads; the result ids."""
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    per_thread = total // threads

    def enqueue(first: int) -> None:
        try:
            for n in range(first, first + per_thread):
                result = record.enqueue(f"task-{n}")
                with lock:
                    ids.append(result.id)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=enqueue, args=(i * per_thread,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert not errors, errors
    return ids


def thousand_tasks_run_exactly_once(start_worker, total: int = 1000, timeout: float = 240):
    with start_worker():
        ids = enqueue_from_threads(total, threads=8)
        assert len(set(ids)) == total
        wait_for(lambda: succeeded(ids) == total, timeout=timeout, interval=0.5)
    runs = RUNS.snapshot()
    assert sorted(runs) == sorted(f"task-{n}" for n in range(total))
    assert {len(times) for times in runs.values()} == {1}, "a task ran more than once"
    rows = TaskResultRecord.objects.filter(id__in=ids)
    assert {len(row.worker_ids) for row in rows} == {1}
    assert all(row.return_value == row.args[0] for row in rows)


def failing_task_is_retried_with_backoff_then_dead_lettered(start_worker, dead_letters, backend):
    result = fail.enqueue("doomed")
    with start_worker():
        wait_for(lambda: TaskResultRecord.objects.get(id=result.id).dead_lettered, timeout=60)
        wait_for(lambda: [e for e in dead_letters if e["key"] == result.id.encode()], timeout=30)
    row = TaskResultRecord.objects.get(id=result.id)
    options = backend.settings
    assert row.status == TaskResultStatus.FAILED
    assert len(row.worker_ids) == options.max_attempts == 3
    assert [e["exception_class_path"] for e in row.errors] == ["builtins.ValueError"] * 3
    assert "task doomed always fails" in row.errors[-1]["traceback"]
    (event,) = [e for e in dead_letters if e["key"] == result.id.encode()]
    assert event["dlq_topic"] == options.queues["default"].dead_letter_topic
    assert event["error_class"] == "ValueError"
    times = RUNS.of("doomed")
    assert len(times) == 3
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    # backoff 300 ms then 600 ms: a retry never comes before its delay
    for gap, attempt in zip(gaps, (1, 2), strict=True):
        assert gap >= options.retry_delay_ms(attempt) / 1000 - 0.02, gaps
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 3


def run_after_is_honoured(start_worker, backend):
    """One deferral inside the lock (delayed release), one beyond it (delay topic)."""
    assert backend.settings.max_release_delay_ms == 2_000
    now = timezone.now()
    soon = record.using(run_after=now + timedelta(seconds=1.5)).enqueue("soon")
    later = record.using(run_after=now + timedelta(seconds=5)).enqueue("later")
    with start_worker():
        wait_for(lambda: succeeded([soon.id, later.id]) == 2, timeout=60)
    for key, result in (("soon", soon), ("later", later)):
        (started,) = RUNS.of(key)
        lateness = started - result.task.run_after.timestamp()
        assert -0.01 <= lateness <= 1.0, f"{key}: ran {lateness:+.3f} s from its run_after"
        result.refresh()
        assert result.attempts == 1, "the wait for run_after is not a run"


def priorities_are_served_as_poll_frequency(start_worker, backlog: int = 20):
    """``normal`` band: no pause between polls; ``background``: 500 ms after each poll. With
    both backlogged, the normal band works through its tasks faster than the background band
    through as many (spans from each band's first run, so how fast a group joined is left out;
    500 ms dwarfs what a no-op task with its result writes costs on a loaded machine)."""
    low = [record.using(priority=-10).enqueue(f"low-{n}").id for n in range(backlog)]
    normal = [record.enqueue(f"normal-{n}").id for n in range(backlog)]
    with start_worker():
        wait_for(lambda: succeeded(low + normal) == 2 * backlog, timeout=120)
    runs = RUNS.snapshot()
    low_times = sorted(runs[f"low-{n}"][0] for n in range(backlog))
    normal_times = sorted(runs[f"normal-{n}"][0] for n in range(backlog))
    low_span, normal_span = low_times[-1] - low_times[0], normal_times[-1] - normal_times[0]
    assert normal_span < low_span, (normal_span, low_span)
    rows = TaskResultRecord.objects.filter(id__in=low)
    assert {row.priority for row in rows} == {-10}


def database_url() -> str:
    """A URL for the database this test uses (the test database), for a subprocess."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    credentials = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    return (
        f"postgres://{credentials}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
        f"/{settings['NAME']}"
    )


def get_result_in_another_process(result_id: str) -> dict:
    script = (
        "import django, json, sys; django.setup();"
        "from django_tasks import default_task_backend as b;"
        "r = b.get_result(sys.argv[1]);"
        "print(json.dumps({'status': r.status, 'value': r.return_value, "
        "'attempts': r.attempts, 'task': r.task.module_path}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url()}
    done = subprocess.run(
        [sys.executable, "-c", script, result_id],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def get_result_works_across_processes(start_worker):
    result = add.enqueue(2, 3)
    with start_worker():
        wait_for(lambda: succeeded([result.id]) == 1, timeout=60)
    seen = get_result_in_another_process(result.id)
    assert seen == {
        "status": "SUCCESSFUL",
        "value": 5,
        "attempts": 1,
        "task": "tests.tasks.jobs.add",
    }
