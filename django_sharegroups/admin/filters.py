"""List filters the mirrored models need beyond plain field filters."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.utils import timezone

from ..conf import get_settings


def stale_before():
    """Heartbeats older than this mean the process is gone (``MIRROR["stale_after"]``)."""
    return timezone.now() - timedelta(seconds=get_settings().mirror.stale_after)


class StaleFilter(admin.SimpleListFilter):
    """Running by their own account, but silent past ``stale_after``: a crashed process."""

    title = "heartbeat"
    parameter_name = "stale"
    #: Path from the model to ConsumerProcess ("" on ConsumerProcess itself).
    process_path = ""

    def lookups(self, request, model_admin):
        return [("yes", "stale (no recent heartbeat)"), ("no", "alive")]

    def queryset(self, request, queryset):
        prefix = f"{self.process_path}__" if self.process_path else ""
        stale = {f"{prefix}last_heartbeat__lt": stale_before()}
        if self.value() == "yes":
            return queryset.filter(**stale).exclude(**{f"{prefix}status": "stopped"})
        if self.value() == "no":
            return queryset.exclude(**stale)
        return queryset


class LeaseStaleFilter(StaleFilter):
    process_path = "process"


class ShareGroupsFilter(admin.SimpleListFilter):
    """``?share_group=NAME`` on processes, which list their groups in a JSON array."""

    title = "share group"
    parameter_name = "share_group"

    def lookups(self, request, model_admin):
        names = set()
        for groups in model_admin.get_queryset(request).values_list("share_groups", flat=True):
            names.update(groups or ())
        return [(name, name) for name in sorted(names)]

    def queryset(self, request, queryset):
        if self.value():
            # JSON text search works on every database (``contains`` does not on SQLite).
            return queryset.filter(share_groups__icontains=f'"{self.value()}"')
        return queryset
