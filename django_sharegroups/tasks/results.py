"""Reading and writing ``TaskResultRecord`` rows; the backend and the worker share this.

Every write is one query by primary key. A worker that finds no row (results switched on
after the task was enqueued, or the enqueuing transaction not committed yet) inserts one,
ignoring a conflict with the enqueuer's row.
"""

from __future__ import annotations

import traceback
from datetime import datetime

from django.utils import timezone
from django.utils.module_loading import import_string

from .compat import Task, TaskError, TaskResult, TaskResultDoesNotExist, TaskResultStatus
from .envelope import TaskEnvelope, from_millis, to_millis


def _model():
    from .models import TaskResultRecord

    return TaskResultRecord


def error_of(exc: BaseException) -> dict[str, str]:
    return {
        "exception_class_path": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "traceback": "".join(traceback.format_exception(exc)),
    }


#: ``TaskEnvelope`` field -> ``TaskResultRecord`` column; the two moments are stored as
#: milliseconds in the envelope and as datetimes in the row.
ROW_COLUMNS = {
    "id": "id",
    "backend": "backend",
    "task": "task_path",
    "queue": "queue_name",
    "priority": "priority",
    "args": "args",
    "kwargs": "kwargs",
    "run_after": "run_after",
    "enqueued_at": "enqueued_at",
}
MOMENTS = ("run_after", "enqueued_at")


def row_for(envelope: TaskEnvelope):
    """An unsaved row of the envelope (status READY)."""
    values = {name: getattr(envelope, name) for name in ROW_COLUMNS}
    for name in MOMENTS:
        values[name] = from_millis(values[name])
    return _model()(**{ROW_COLUMNS[name]: value for name, value in values.items()})


def envelope_of(row) -> TaskEnvelope:
    """The envelope ``row`` was written from."""
    values = {name: getattr(row, column) for name, column in ROW_COLUMNS.items()}
    for name in MOMENTS:
        values[name] = to_millis(values[name])
    return TaskEnvelope(**values)


def result_for(
    task: Task,
    envelope: TaskEnvelope,
    status: str,
    *,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    last_attempted_at: datetime | None = None,
    errors: list[dict[str, str]] | None = None,
    worker_ids: list[str] | None = None,
) -> TaskResult:
    """The Tasks API's ``TaskResult`` of one run of ``envelope``."""
    return TaskResult(
        task=task,
        id=envelope.id,
        status=TaskResultStatus(status),
        enqueued_at=from_millis(envelope.enqueued_at),
        started_at=started_at,
        finished_at=finished_at,
        last_attempted_at=last_attempted_at,
        args=envelope.args,
        kwargs=envelope.kwargs,
        backend=envelope.backend,
        errors=[TaskError(**error) for error in errors or ()],
        worker_ids=list(worker_ids or ()),
    )


def create(envelope: TaskEnvelope) -> None:
    row_for(envelope).save(force_insert=True)


def delete(result_id: str) -> None:
    _model().objects.filter(id=result_id).delete()


def started(envelope: TaskEnvelope, worker_id: str, now: datetime):
    """Mark a run as started; the row, or None when the task already succeeded (a redelivery
    after a lost acknowledgement: it must not run twice)."""
    model = _model()
    row = model.objects.filter(id=envelope.id).first()
    if row is None:
        model.objects.bulk_create([row_for(envelope)], ignore_conflicts=True)
        row = model.objects.get(id=envelope.id)
    if row.status == TaskResultStatus.SUCCESSFUL:
        return None
    row.status = TaskResultStatus.RUNNING
    row.started_at = row.started_at or now
    row.last_attempted_at = now
    row.worker_ids = [*row.worker_ids, worker_id]
    row.save(update_fields=["status", "started_at", "last_attempted_at", "worker_ids"])
    return row


def finished(row, status: str, *, return_value=None, error=None, dead_lettered=False) -> None:
    """SUCCESSFUL or FAILED (finished), or READY again when a retry follows."""
    row.status = status
    fields = ["status"]
    if status != TaskResultStatus.READY:
        row.finished_at = timezone.now()
        fields.append("finished_at")
    if status == TaskResultStatus.SUCCESSFUL:
        row.return_value = return_value
        fields.append("return_value")
    if error is not None:
        row.errors = [*row.errors, error]
        fields.append("errors")
    if dead_lettered:
        row.dead_lettered = True
        fields.append("dead_lettered")
    row.save(update_fields=fields)


def to_task_result(row) -> TaskResult:
    """The row as the Tasks API's ``TaskResult`` (its task imported from its path)."""
    try:
        task = import_string(row.task_path)
    except ImportError as exc:
        raise TaskResultDoesNotExist(f"{row.id}: cannot import {row.task_path!r}") from exc
    if not isinstance(task, Task):
        raise TaskResultDoesNotExist(f"{row.id}: {row.task_path!r} is not a task")
    result = result_for(
        task,
        envelope_of(row),
        row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        last_attempted_at=row.last_attempted_at,
        errors=row.errors,
        worker_ids=row.worker_ids,
    )
    object.__setattr__(result, "_return_value", row.return_value)
    return result


def get(result_id: str) -> TaskResult:
    model = _model()
    try:
        row = model.objects.get(id=result_id)
    except model.DoesNotExist:
        raise TaskResultDoesNotExist(result_id) from None
    return to_task_result(row)


def mark_unsent(result_id: str, exc: BaseException) -> None:
    """The record never reached the broker: the task will not run, say so in its result."""
    _model().objects.filter(id=result_id).update(
        status=TaskResultStatus.FAILED, finished_at=timezone.now(), errors=[error_of(exc)]
    )
