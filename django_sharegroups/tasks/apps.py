"""The ``sharegroups_tasks`` app: install it to store task results (model, admin)."""

from django.apps import AppConfig


class ShareGroupsTasksConfig(AppConfig):
    name = "django_sharegroups.tasks"
    label = "sharegroups_tasks"
    verbose_name = "Tasks on Kafka share groups"
    default_auto_field = "django.db.models.BigAutoField"
