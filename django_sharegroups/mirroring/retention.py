"""What ``sharegroups_cleanup`` and the admin "purge" action delete, in one place.

Processed records older than ``PROCESSED_RECORD_RETENTION``; dead letters, archived records
and stopped or stale processes (with their leases) older than ``MIRROR["retention"]``; leases
of processes that stopped heartbeating (``MIRROR["stale_after"]``); per-minute rollups older
than ``MIRROR["rollup_retention"]``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.apps import apps
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..conf import ShareGroupsSettings, get_settings


def expired(
    settings: ShareGroupsSettings | None = None,
    now: datetime | None = None,
    older_than: float | None = None,
) -> dict[str, QuerySet]:
    """Model name → the rows due for deletion; ``older_than`` (seconds) overrides every
    retention."""
    settings = settings or get_settings()
    now = now or timezone.now()
    processed_cut = now - timedelta(
        seconds=settings.processed_record_retention if older_than is None else older_than
    )
    mirror_cut = now - timedelta(
        seconds=settings.mirror.retention if older_than is None else older_than
    )
    rollup_cut = now - timedelta(
        seconds=settings.mirror.rollup_retention if older_than is None else older_than
    )
    stale_cut = now - timedelta(seconds=settings.mirror.stale_after)
    model = _model
    return {
        "ProcessedRecord": model("ProcessedRecord").objects.filter(processed_at__lt=processed_cut),
        "DeadLetter": model("DeadLetter").objects.filter(dead_lettered_at__lt=mirror_cut),
        "ArchivedRecord": model("ArchivedRecord").objects.filter(archived_at__lt=mirror_cut),
        "Lease": model("Lease").objects.filter(
            Q(process__last_heartbeat__lt=stale_cut) | Q(process__isnull=True)
        ),
        "ConsumerProcess": model("ConsumerProcess").objects.filter(last_heartbeat__lt=mirror_cut),
        "ThroughputMinute": model("ThroughputMinute").objects.filter(minute__lt=rollup_cut),
    }


def purge(querysets: dict[str, QuerySet]) -> dict[str, int]:
    """Delete the rows; returns how many per model (cascaded leases count as leases)."""
    deleted: dict[str, int] = {}
    with transaction.atomic():
        for queryset in querysets.values():
            _, per_model = queryset.delete()
            for label, count in per_model.items():
                short = label.rsplit(".", 1)[-1]
                deleted[short] = deleted.get(short, 0) + count
    return deleted


def _model(name: str):
    return apps.get_model("django_sharegroups", name)
