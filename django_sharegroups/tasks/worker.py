"""``TaskConsumer``: runs the task in each record of a task topic, then settles the record.

A task that returns is ACCEPTed; one that raises is RELEASEd with a backoff (a delayed
release) until it has run ``max_attempts`` times, then sent to the queue's DLQ topic and
REJECTed. A task not due yet waits for its ``run_after`` in a delayed release when that is
close, in the delay topic otherwise. A record that is not a task goes to the DLQ at once.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time

from django.utils import timezone
from django.utils.module_loading import import_string

from ..consumer import ShareGroupConsumer
from ..processing.delay_topic import release_to_delay_topic
from . import results
from .compat import (
    Task,
    TaskContext,
    TaskResult,
    TaskResultStatus,
    normalize_json,
    task_backends,
    task_finished,
    task_started,
)
from .envelope import InvalidTaskRecord, TaskEnvelope

logger = logging.getLogger("django_sharegroups.tasks")

_classes: dict[str, type[TaskConsumer]] = {}


class TaskConsumer(ShareGroupConsumer):
    """Declared by the backend for every task topic (``for_backend``); not for subclassing."""

    #: Alias in ``settings.TASKS`` of the backend whose tasks this consumer runs.
    backend_alias = "default"

    @classmethod
    def for_backend(cls, alias: str) -> type[TaskConsumer]:
        if alias not in _classes:
            _classes[alias] = type(f"TaskConsumer[{alias}]", (cls,), {"backend_alias": alias})
        return _classes[alias]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.backend = task_backends[self.backend_alias]
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"[:64]

    def consume(self, messages) -> None:
        for message in messages:
            self.run(message)

    def run(self, message) -> None:
        try:
            envelope = TaskEnvelope.from_payload(message.payload)
        except InvalidTaskRecord as exc:
            logger.error("%r is not a task record (%s): dead-lettered", message, exc)
            self.dispatch_to_dlq(message, exc)
            return
        if self.defer(message, envelope):
            return
        attempt = envelope.attempt(message.delivery_count, message.record.timestamp_ms)
        row = None
        if self.backend.results_enabled:
            row = results.started(envelope, self.worker_id, timezone.now())
            if row is None:  # ran before; its acknowledgement was lost
                self.mark_accepted(message)
                return
        task_result = None
        try:
            task = load_task(envelope.task)
            task_result = self.task_result(task, envelope, row)
            task_started.send(type(self.backend), task_result=task_result)
            context = [TaskContext(task_result=task_result)] if task.takes_context else []
            value = task.call(*context, *envelope.args, **envelope.kwargs)
            value = normalize_json(value)
        except (Exception, SystemExit) as exc:  # sys.exit() in a task fails a run, not a thread
            self.failed(message, envelope, attempt, row, task_result, exc)
            return
        if row is not None:
            self.store(row, TaskResultStatus.SUCCESSFUL, return_value=value)
        self.mark_accepted(message)
        object.__setattr__(task_result, "status", TaskResultStatus.SUCCESSFUL)
        object.__setattr__(task_result, "_return_value", value)
        object.__setattr__(task_result, "finished_at", timezone.now())
        task_finished.send(type(self.backend), task_result=task_result)

    def defer(self, message, envelope: TaskEnvelope) -> bool:
        """Not due yet: hold it until ``run_after`` (delayed release) or park it in the delay
        topic when that is further away than ``max_release_delay_ms``."""
        due = envelope.run_after_seconds()
        if due is None:
            return False
        wait_ms = math.ceil((due - time.time()) * 1000)
        if wait_ms <= 0:
            return False
        options = self.backend.settings
        if wait_ms <= options.max_release_delay_ms:
            self.mark_released(message, delay=wait_ms)
        else:
            release_to_delay_topic(self, message, wait_ms, options.delay_topic)
        return True

    def failed(self, message, envelope, attempt, row, task_result, exc: BaseException) -> None:
        options = self.backend.settings
        error = results.error_of(exc)
        if attempt < options.max_attempts:
            delay = options.retry_delay_ms(attempt)
            logger.warning(
                "Task %s %s failed on run %d of %d (%s: %s); retrying in %d ms",
                envelope.task, envelope.id, attempt, options.max_attempts,
                type(exc).__name__, exc, delay,
            )  # fmt: skip
            if row is not None:
                self.store(row, TaskResultStatus.READY, error=error)
            self.mark_released(message, delay=delay)
            return
        logger.error(
            "Task %s %s failed on its last run (%d): dead-lettered to %s",
            envelope.task, envelope.id, attempt, self.topic.dead_letter_queue["topic"],
            exc_info=exc,
        )  # fmt: skip
        if row is not None:
            self.store(row, TaskResultStatus.FAILED, error=error, dead_lettered=True)
        self.dispatch_to_dlq(message, exc)
        if task_result is not None:
            object.__setattr__(task_result, "status", TaskResultStatus.FAILED)
            object.__setattr__(task_result, "finished_at", timezone.now())
            task_finished.send(type(self.backend), task_result=task_result)

    def store(self, row, status: str, **changes) -> None:
        """Write the outcome; a database error is logged, never turned into a second run."""
        try:
            results.finished(row, status, **changes)
        except Exception:
            logger.exception("Storing the result of task %s failed", row.id)

    def task_result(self, task: Task, envelope: TaskEnvelope, row) -> TaskResult:
        """The ``TaskResult`` the signals and a ``takes_context`` task see for this run."""
        now = timezone.now()
        return results.result_for(
            task,
            envelope,
            TaskResultStatus.RUNNING,
            started_at=row.started_at if row is not None else now,
            last_attempted_at=now,
            worker_ids=row.worker_ids if row is not None else [self.worker_id],
        )


def load_task(path: str) -> Task:
    task = import_string(path)
    if not isinstance(task, Task):
        raise TypeError(f"{path} is not a task (decorate it with @task)")
    return task
