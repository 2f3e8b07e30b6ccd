"""Admin of the mirrored state: processes, leases, dead letters, archived and processed records.

The rows are written by the reporter (or by idempotent jobs), so the admin only reads them,
except for two actions: "replay" (dead letters) and "purge" (rows past their retention).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from ..mirroring.retention import expired, purge
from ..models import ArchivedRecord, ConsumerProcess, DeadLetter, Lease, ProcessedRecord
from .filters import LeaseStaleFilter, ShareGroupsFilter, StaleFilter, stale_before
from .replay import replay

ORIGIN_SEARCH = ("share_group", "topic", "=offset")


@admin.action(description="Purge selected rows past their retention", permissions=["delete"])
def purge_expired(modeladmin, request: HttpRequest, queryset: QuerySet) -> None:
    """Deletes only the selected rows that ``sharegroups_cleanup`` would delete too."""
    due = expired()[queryset.model.__name__]
    deleted = purge({queryset.model.__name__: queryset.filter(pk__in=due.values("pk"))})
    total = deleted.get(queryset.model.__name__, 0)
    kept = queryset.count()
    modeladmin.message_user(
        request,
        f"Purged {total} row(s); kept {kept} selected row(s) still within their retention.",
        messages.SUCCESS,
    )


class MirroredAdmin(admin.ModelAdmin):
    """Read-only: the runtime owns these rows."""

    actions = [purge_expired]
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Rows are never edited; the changelist-level permission still gates the actions.
        return obj is None and super().has_change_permission(request)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(ConsumerProcess)
class ConsumerProcessAdmin(MirroredAdmin):
    list_display = (
        "__str__",
        "status",
        "stale",
        "threads",
        "groups",
        "started_at",
        "last_heartbeat",
    )
    list_filter = ("status", StaleFilter, ShareGroupsFilter, "host")
    search_fields = ("host", "=pid", "share_groups")
    date_hierarchy = "started_at"

    @admin.display(boolean=True, description="stale")
    def stale(self, process: ConsumerProcess) -> bool:
        return process.status != "stopped" and process.last_heartbeat < stale_before()

    @admin.display(description="share groups")
    def groups(self, process: ConsumerProcess) -> str:
        return ", ".join(process.share_groups or ())


@admin.register(Lease)
class LeaseAdmin(MirroredAdmin):
    list_display = (
        "share_group",
        "topic",
        "partition",
        "offset",
        "delivery_count",
        "acquired_at",
        "lock_deadline",
        "consumer_thread",
        "process",
        "stale",
    )
    list_filter = ("share_group", "topic", LeaseStaleFilter, "delivery_count")
    search_fields = (*ORIGIN_SEARCH, "consumer_thread", "process__host")
    list_select_related = ("process",)

    @admin.display(boolean=True, description="stale")
    def stale(self, lease: Lease) -> bool:
        return lease.process is None or lease.process.last_heartbeat < stale_before()


@admin.action(
    description="Replay selected dead letters to their origin topic", permissions=["change"]
)
def replay_dead_letters(modeladmin, request: HttpRequest, queryset: QuerySet) -> None:
    try:
        outcome = replay(queryset.order_by("topic", "partition", "offset"))
    except Exception as exc:  # no producer (adapter cannot produce, Kafka unreachable)
        modeladmin.message_user(request, f"Replay failed: {exc}", messages.ERROR)
        return
    if outcome.replayed:
        modeladmin.message_user(
            request, f"Replayed {len(outcome.replayed)} record(s).", messages.SUCCESS
        )
    if outcome.skipped:
        modeladmin.message_user(
            request,
            f"Skipped {len(outcome.skipped)} record(s) whose payload was cut at the mirror's "
            "size limit (MIRROR['payload_limit']) or not copied by the broker DLQ "
            "(errors.deadletterqueue.copy.record.enable=false); replay them from the DLQ or "
            "origin topic instead.",
            messages.WARNING,
        )
    for row, error in outcome.failed:
        modeladmin.message_user(request, f"{row}: not replayed ({error})", messages.ERROR)


@admin.register(DeadLetter)
class DeadLetterAdmin(MirroredAdmin):
    actions = [replay_dead_letters, purge_expired]
    list_display = (
        "share_group",
        "topic",
        "partition",
        "offset",
        "delivery_count",
        "error_class",
        "source",
        "dlq",
        "dead_lettered_at",
        "replayed",
    )
    list_filter = ("share_group", "topic", "source", "error_class", "dlq_topic", "replayed_at")
    search_fields = (*ORIGIN_SEARCH, "error_class", "error_message", "dlq_topic")
    date_hierarchy = "dead_lettered_at"
    exclude = ("key", "payload")
    readonly_fields_extra = ("key_preview", "payload_preview")

    def get_readonly_fields(self, request, obj=None):
        fields = [f for f in super().get_readonly_fields(request, obj) if f not in self.exclude]
        return [*fields, *self.readonly_fields_extra]

    @admin.display(description="DLQ record")
    def dlq(self, row: DeadLetter) -> str:
        return f"{row.dlq_topic}[{row.dlq_partition}]@{row.dlq_offset}"

    @admin.display(boolean=True, description="replayed")
    def replayed(self, row: DeadLetter) -> bool:
        return row.replayed_at is not None

    @admin.display(description="key")
    def key_preview(self, row: DeadLetter) -> str:
        return _preview(row.key)

    @admin.display(description="payload")
    def payload_preview(self, row: DeadLetter) -> str:
        cut = " (cut at the mirror's size limit)" if row.payload_truncated else ""
        return format_html("<pre>{}</pre>{}", _preview(row.payload), cut)


@admin.register(ArchivedRecord)
class ArchivedRecordAdmin(MirroredAdmin):
    list_display = (
        "share_group",
        "topic",
        "partition",
        "offset",
        "delivery_count",
        "reason",
        "archived_at",
    )
    list_filter = ("share_group", "topic", "reason", "archived_at")
    search_fields = (*ORIGIN_SEARCH, "error")
    date_hierarchy = "archived_at"


@admin.register(ProcessedRecord)
class ProcessedRecordAdmin(MirroredAdmin):
    list_display = ("share_group", "topic", "partition", "offset", "processed_at")
    list_filter = ("share_group", "topic", "processed_at")
    search_fields = ORIGIN_SEARCH
    date_hierarchy = "processed_at"


def _preview(value, limit: int = 4096) -> str:
    """Bytes as text where they decode, else as a short hex dump."""
    if value is None:
        return "—"
    data = bytes(value)[:limit]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.hex(" ")
