"""The audit log of dangerous share-group actions (reset offsets, change configs, delete)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ShareGroupAuditEntry(models.Model):
    """One executed action on a share group, successful or refused by the broker.

    Written by the admin views and the ``sharegroups`` command alike, before the action is
    sent (so an action never runs unrecorded) and again with its outcome; an entry left at
    ``started`` means the process died in between. Dry runs are not executed and leave no
    entry. ``before``/``after`` hold the partitions' offsets for resets
    and deletes, the touched configs' values for config changes.
    """

    class Action(models.TextChoices):
        RESET_OFFSETS = "reset_offsets", "reset offsets"
        ALTER_CONFIG = "alter_config", "change configs"
        DELETE_GROUP = "delete_group", "delete share group"

    class Source(models.TextChoices):
        ADMIN = "admin", "Django admin"
        CLI = "cli", "manage.py sharegroups"
        RUNTIME = "runtime", "manage.py runshareconsumers"

    class Outcome(models.TextChoices):
        STARTED = "started", "started (no outcome recorded)"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=150, help_text="Username (admin) or OS user (command).")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The admin user; empty for the command (see actor).",
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    action = models.CharField(max_length=32, choices=Action.choices)
    share_group = models.CharField(max_length=255, db_index=True)
    parameters = models.JSONField(default=dict, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error_name = models.CharField(
        max_length=64, blank=True, help_text="Kafka's error name, e.g. NON_EMPTY_GROUP."
    )
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        default_permissions = ("view",)
        verbose_name = "share-group audit entry"
        verbose_name_plural = "share-group audit log"

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.share_group} by {self.actor} ({self.outcome})"
