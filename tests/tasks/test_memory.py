"""The task backend on the in-memory broker: the acceptance scenarios and memory-only details."""

from __future__ import annotations

import functools

import pytest
from django.db import transaction

from django_sharegroups.tasks.compat import TaskResultStatus
from django_sharegroups.tasks.models import TaskResultRecord

from ..helpers import wait_for
from . import scenarios
from .conftest import running_worker, task_backend
from .jobs import RUNS, attempt_number, exits, record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def backend(sharegroups_broker):
    with task_backend("memory") as backend:
        yield backend


@pytest.fixture
def start_worker(backend):
    return functools.partial(running_worker, backend, "memory")


def test_thousand_tasks_from_threads_run_exactly_once(start_worker):
    scenarios.thousand_tasks_run_exactly_once(start_worker)


def test_failing_task_is_retried_with_backoff_then_dead_lettered(
    start_worker, dead_letters, backend
):
    scenarios.failing_task_is_retried_with_backoff_then_dead_lettered(
        start_worker, dead_letters, backend
    )


def test_run_after_is_honoured(start_worker, backend, sharegroups_broker):
    scenarios.run_after_is_honoured(start_worker, backend)
    # the later one went through the delay topic, the sooner one did not
    assert sharegroups_broker.log_end_offset(backend.settings.delay_topic, 0) == 1


def test_priorities_are_served_as_poll_frequency(sharegroups_broker):
    with task_backend("memory", priority_bands={"normal": 0, "background": -100}) as backend:
        scenarios.priorities_are_served_as_poll_frequency(
            functools.partial(running_worker, backend, "memory")
        )
        queue = backend.settings.queues["default"]
        assert sharegroups_broker.log_end_offset(queue.band_topic("background"), 0) == 20


def test_get_result_from_another_process(start_worker):
    scenarios.get_result_works_across_processes(start_worker)


def test_context_sees_the_attempt_number(start_worker):
    result = attempt_number.enqueue("ctx")
    with start_worker():
        wait_for(lambda: scenarios.succeeded([result.id]) == 1, timeout=30)
    result.refresh()
    assert result.return_value == 2
    assert result.attempts == 2
    assert [error.exception_class_path for error in result.errors] == ["builtins.RuntimeError"]


def test_a_task_calling_sys_exit_fails_its_runs_and_the_worker_lives_on(start_worker):
    result = exits.enqueue("exit")
    after = record.enqueue("after")
    with start_worker() as runner:
        wait_for(lambda: TaskResultRecord.objects.get(id=result.id).dead_lettered, timeout=30)
        wait_for(lambda: scenarios.succeeded([after.id]) == 1, timeout=30)
        assert all(listener.is_alive() for listener in runner.listeners)
    row = TaskResultRecord.objects.get(id=result.id)
    assert [e["exception_class_path"] for e in row.errors] == ["builtins.SystemExit"] * 3


def test_enqueue_on_commit_produces_only_after_the_commit(sharegroups_broker):
    with task_backend("memory", enqueue_on_commit=True) as backend:
        topic = backend.settings.queues["default"].topic
        with transaction.atomic():
            result = record.enqueue("committed")
            assert topic not in sharegroups_broker.topics()
        assert sharegroups_broker.log_end_offset(topic, 0) == 1
        with pytest.raises(RuntimeError), transaction.atomic():
            rolled_back = record.enqueue("rolled-back")
            raise RuntimeError("roll back")
        assert sharegroups_broker.log_end_offset(topic, 0) == 1
        assert not TaskResultRecord.objects.filter(id=rolled_back.id).exists()
        assert TaskResultRecord.objects.get(id=result.id).status == TaskResultStatus.READY


def test_a_record_that_is_not_a_task_is_dead_lettered(start_worker, backend, dead_letters):
    topic = backend.settings.queues["default"].topic
    with start_worker(), backend_producer(topic) as produce:
        produce(b'{"not": "a task"}')
        wait_for(lambda: dead_letters, timeout=30)
    assert dead_letters[0]["error_class"] == "InvalidTaskRecord"
    assert RUNS.snapshot() == {}


class backend_producer:  # noqa: N801 - reads as a context manager
    def __init__(self, topic: str) -> None:
        self.topic = topic

    def __enter__(self):
        from django_sharegroups.tasks.backend import producer_for

        return lambda value: producer_for("memory").produce(self.topic, value)

    def __exit__(self, *exc) -> None:
        return None
