"""Task results, so ``get_result(id)`` works from any process and the admin can show them."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

STATUS_CHOICES = [
    ("READY", _("Ready")),
    ("RUNNING", _("Running")),
    ("FAILED", _("Failed")),
    ("SUCCESSFUL", _("Successful")),
]


class TaskResultRecord(models.Model):
    """One enqueued task and what became of it. Written by ``enqueue`` (READY) and by the
    worker that runs it (RUNNING, then SUCCESSFUL, FAILED, or READY again before a retry)."""

    id = models.CharField(primary_key=True, max_length=64)
    backend = models.CharField(max_length=64)
    task_path = models.CharField(_("task"), max_length=255)
    queue_name = models.CharField(_("queue"), max_length=64)
    priority = models.SmallIntegerField(default=0)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    run_after = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default="READY")
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    last_attempted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    return_value = models.JSONField(null=True, blank=True)
    #: ``[{"exception_class_path": ..., "traceback": ...}]``, one per failed run.
    errors = models.JSONField(default=list, blank=True)
    #: One entry per run: the worker (host-pid-thread) that ran it.
    worker_ids = models.JSONField(default=list, blank=True)
    #: Set when the task was given up and its record sent to the queue's DLQ topic.
    dead_lettered = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("task result")
        verbose_name_plural = _("task results")
        ordering = ["-enqueued_at"]
        indexes = [models.Index(fields=["status", "queue_name"], name="sharegroups_task_status")]

    def __str__(self) -> str:
        return f"{self.task_path} {self.id} ({self.status})"

    @property
    def attempts(self) -> int:
        return len(self.worker_ids)
