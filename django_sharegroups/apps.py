"""AppConfig: discover every installed app's ``consumers.py`` and register the route checks."""

import importlib

from django.apps import AppConfig, apps
from django.core import checks
from django.utils.module_loading import module_has_submodule


class ShareGroupsConfig(AppConfig):
    name = "django_sharegroups"
    verbose_name = "Kafka share groups"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .broker_dlq.watcher import connect as connect_dlq_watcher
        from .instrumentation import events
        from .instrumentation.logging_listener import connect as connect_logging
        from .mirroring.listeners import connect as connect_mirroring
        from .routing import registry
        from .routing.checks import check_routes
        from .tasks.routes import declare_task_queues

        discover_consumers(registry)
        declare_task_queues(registry)  # share groups of the TASKS backends (docs/tasks.md)
        checks.register(check_routes, "sharegroups")
        connect_logging(events)
        #: Mirrors runtime state into models (SHAREGROUPS["MIRROR"]); see docs/orm.md.
        self.mirror_listener = connect_mirroring(events)
        #: Mirrors the broker-side DLQ topics into DeadLetter rows; see docs/dead-letters.md.
        self.dlq_watcher = connect_dlq_watcher(events)


def discover_consumers(registry) -> None:
    """Import ``<app>.consumers`` for every installed app, like the admin's autodiscovery.

    An import error propagates: a broken ``consumers.py`` must stop startup, not vanish.
    """
    for app_config in apps.get_app_configs():
        if module_has_submodule(app_config.module, "consumers"):
            module = f"{app_config.name}.consumers"
            with registry.declaring_from(module):
                importlib.import_module(module)
