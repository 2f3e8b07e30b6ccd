"""Task queues become share groups: declared at startup, so ``runshareconsumers`` runs them.

``declare_task_queues`` is called by ``django_sharegroups``' AppConfig after the
``consumers.py`` modules: for every ``TASKS`` backend that is a ``ShareGroupsBackend`` it
declares a share group per queue and priority band, plus the delay topic's group. Task groups
start at the earliest offset (Kafka's default is latest, which would lose tasks enqueued
before the first worker ever polled): set when one of their consumers starts.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.utils.module_loading import import_string

from ..exceptions import ConfigurationError
from ..instrumentation import EventBus, events
from ..routing import RouteRegistry, share_group, topic

logger = logging.getLogger("django_sharegroups.tasks")

EARLIEST = {"share.auto.offset.reset": "earliest"}
#: Share group name → client adapter name ("" = the settings' default) of every task group.
task_groups: dict[str, str] = {}
_prepared: set[tuple[str, str]] = set()
_lock = threading.Lock()
_subscribed: list[EventBus] = []


def task_backend_aliases() -> list[str]:
    """Aliases of ``settings.TASKS`` whose backend is a ``ShareGroupsBackend``."""
    from_settings = getattr(settings, "TASKS", None) or {}
    found = []
    for alias, params in from_settings.items():
        path = params.get("BACKEND", "")
        if not path.startswith("django_sharegroups."):
            continue
        from .backend import ShareGroupsBackend

        backend_class = import_string(path)
        if isinstance(backend_class, type) and issubclass(backend_class, ShareGroupsBackend):
            found.append(alias)
    return found


def declare_task_queues(registry: RouteRegistry, bus: EventBus = events) -> list:
    """Declare the share groups of every ``ShareGroupsBackend`` in ``settings.TASKS``."""
    aliases = task_backend_aliases()
    if not aliases:
        return []
    from .compat import task_backends

    groups = []
    for alias in aliases:
        backend = task_backends[alias]
        errors = [message for message in backend.check() if message.is_serious()]
        if errors:  # e.g. results on without the results app: enqueue could never work
            raise ConfigurationError(" ".join(f"{e.msg} {e.hint or ''}".strip() for e in errors))
        with registry.declaring_from(f"settings.TASKS[{alias!r}]"):
            groups.extend(declare_backend(backend, registry, bus))
    return groups


def declare_backend(backend, registry: RouteRegistry, bus: EventBus = events) -> list:
    """The share groups of one backend: its queues and bands, and its delay topic's group."""
    from ..processing.delay_topic import DelayTopicConsumer

    groups = backend.share_groups(registry)
    delay_topic = backend.settings.delay_topic
    if all(group.name != delay_topic for group in registry.groups):
        groups.append(
            share_group(
                delay_topic,
                priority="background",
                workers_per_consumer=4,
                registry=registry,
                topics=[topic(delay_topic, consumer=DelayTopicConsumer, deserializer="raw")],
            )
        )
    for group in groups:
        task_groups[group.name] = group.client or ""
    if bus not in _subscribed:
        bus.subscribe("consumer.started", start_at_earliest)
        _subscribed.append(bus)
    return groups


def start_at_earliest(event: str, payload: dict) -> None:
    """``consumer.started`` of a task group: start its share partitions at the earliest offset."""
    name = payload.get("share_group")
    if name in task_groups:
        ensure_earliest(name, task_groups[name] or None)


def ensure_earliest(share_group: str, client: str | None) -> None:
    """Set ``share.auto.offset.reset=earliest`` on a task group, once per process, cluster and
    group. Called before the first task is produced to it and when a worker joins it, so no
    task produced before the group's share partitions were initialized is skipped."""
    conf = get_settings()
    client = client or conf.client
    if client == "memory":  # in-process and cheap: every time (tests swap brokers)
        from ..clients.memory import default_broker

        default_broker().alter_group_config(share_group, EARLIEST)
        return
    key = (conf.bootstrap_servers or "", share_group)
    if key in _prepared:
        return
    with _lock:
        if key not in _prepared:
            from ..admin_tools.client import open_admin

            with open_admin(conf) as admin:
                admin.alter_share_group_config(share_group, EARLIEST)
            _prepared.add(key)


def get_settings():
    from ..conf import get_settings as read

    return read()
