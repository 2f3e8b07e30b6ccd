"""Share-group state mirrored from the runtime: processes, leases, dead letters, archive.

The runtime never writes these rows itself; the reporter thread (``mirroring/``) batches the
events into bulk upserts, so they can lag behind by one reporting interval.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone

from .base import RecordOrigin


class ConsumerProcess(models.Model):
    """A ``runshareconsumers`` process; a crashed one stops heartbeating and turns stale."""

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        QUIET = "quiet", "quiet (not polling)"
        STOPPED = "stopped", "stopped"

    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    process_index = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Its index under a `runshareconsumers --processes` supervisor.",
    )
    share_groups = models.JSONField(default=list, help_text="Names of the share groups it runs.")
    threads = models.PositiveIntegerField(help_text="Share-consumer instances (listener threads).")
    started_at = models.DateTimeField()
    last_heartbeat = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)

    class Meta:
        verbose_name_plural = "consumer processes"
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["host", "pid", "started_at"], name="sharegroups_process_unique"
            )
        ]

    def __str__(self) -> str:
        child = "" if self.process_index is None else f" (process {self.process_index})"
        return f"{self.host}:{self.pid}{child}"

    def is_stale(self, max_age: timedelta, now=None) -> bool:
        """Running by its last word, but silent for longer than ``max_age``: it likely died."""
        now = now or timezone.now()
        return self.status != self.Status.STOPPED and self.last_heartbeat < now - max_age


class Lease(RecordOrigin):
    """A record a consumer thread holds right now (acquired, not yet acknowledged)."""

    delivery_count = models.PositiveIntegerField()
    acquired_at = models.DateTimeField()
    lock_deadline = models.DateTimeField(null=True, blank=True)
    consumer_thread = models.CharField(max_length=255)
    process = models.ForeignKey(
        ConsumerProcess, on_delete=models.CASCADE, related_name="leases", null=True, blank=True
    )
    mirrored_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["share_group", "topic", "partition", "offset"]
        constraints = [
            models.UniqueConstraint(
                fields=["share_group", "topic", "partition", "offset"],
                name="sharegroups_lease_unique",
            )
        ]


class DeadLetter(RecordOrigin):
    """A dead-lettered record, kept for inspection and replay: produced by the client-side DLQ
    handler, or written by the broker to the group's DLQ topic (KIP-1191) and mirrored."""

    class Source(models.TextChoices):
        CLIENT = "client", "client-side DLQ"
        BROKER = "broker", "broker-side DLQ"

    key = models.BinaryField(null=True, blank=True)
    #: ``[[name, base64 value or null], ...]`` in record order (headers may repeat).
    headers = models.JSONField(default=list, blank=True)
    payload = models.BinaryField(null=True, blank=True)
    payload_size = models.PositiveIntegerField(default=0)
    payload_truncated = models.BooleanField(default=False)
    delivery_count = models.PositiveIntegerField()
    error_class = models.CharField(max_length=255, blank=True)
    error_message = models.TextField(blank=True)
    dlq_topic = models.CharField(max_length=249)
    dlq_partition = models.IntegerField(null=True, blank=True)
    dlq_offset = models.BigIntegerField(null=True, blank=True)
    dead_lettered_at = models.DateTimeField(db_index=True)
    replayed_at = models.DateTimeField(null=True, blank=True)
    replay_count = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.CLIENT)

    class Meta:
        ordering = ["-dead_lettered_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["share_group", "topic", "partition", "offset"],
                name="sharegroups_deadletter_unique",
            )
        ]


class ArchivedRecord(RecordOrigin):
    """A record the broker archived: it will never be delivered again."""

    class Reason(models.TextChoices):
        REJECTED = "rejected", "rejected by the consumer"
        DELIVERY_LIMIT = "delivery_limit", "delivery count limit reached"
        LOCK_EXPIRY_AT_LIMIT = "lock_expiry_at_limit", "lock expired at the delivery limit"

    delivery_count = models.PositiveIntegerField()
    reason = models.CharField(max_length=32, choices=Reason.choices)
    error = models.TextField(blank=True)
    archived_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-archived_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["share_group", "topic", "partition", "offset"],
                name="sharegroups_archived_unique",
            )
        ]
