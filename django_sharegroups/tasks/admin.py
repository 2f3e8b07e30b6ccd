"""Task results in the admin: read-only, searchable by task and id, filterable by status."""

from django.contrib import admin

from .models import TaskResultRecord


@admin.register(TaskResultRecord)
class TaskResultRecordAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "task_path",
        "queue_name",
        "priority",
        "status",
        "attempts",
        "dead_lettered",
        "enqueued_at",
        "finished_at",
    )
    list_filter = ("status", "queue_name", "dead_lettered", "backend")
    search_fields = ("id", "task_path")
    date_hierarchy = "enqueued_at"
    readonly_fields = [field.name for field in TaskResultRecord._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="attempts")
    def attempts(self, obj: TaskResultRecord) -> int:
        return obj.attempts
