"""Per-minute outcome counts of each share group, the time series behind the dashboards.

The mirroring reporter adds up the acknowledgement batches, archives and DLQ copies its
process saw in memory and upserts one row per share group and minute once per interval;
each reporter writes its own rows (``reporter``), so processes never contend for a row and
a retried write sets the same absolute values again. Readers sum over reporters.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ThroughputMinute(models.Model):
    """One reporter's counts of one share group in one minute."""

    share_group = models.CharField(max_length=255)
    minute = models.DateTimeField(help_text=_("The minute's start (UTC)."))
    reporter = models.CharField(
        max_length=320, help_text=_("The reporter that wrote the row: host, pid and a token.")
    )
    accepted = models.PositiveBigIntegerField(default=0)
    released = models.PositiveBigIntegerField(default=0)
    rejected = models.PositiveBigIntegerField(default=0)
    archived = models.PositiveBigIntegerField(default=0)
    dead_lettered = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("share-group dashboard")
        verbose_name_plural = _("share-group dashboards")
        ordering = ["-minute", "share_group"]
        constraints = [
            models.UniqueConstraint(
                fields=["share_group", "minute", "reporter"],
                name="sharegroups_throughput_unique",
            )
        ]
        indexes = [models.Index(fields=["minute", "share_group"], name="sharegroups_tp_minute")]

    def __str__(self) -> str:
        return f"{self.share_group} @ {self.minute:%Y-%m-%d %H:%M}"
