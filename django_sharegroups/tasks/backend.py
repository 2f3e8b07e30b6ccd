"""``ShareGroupsBackend``: a Tasks backend (``django.tasks`` / ``django-tasks``) on share groups.

``enqueue`` produces the task to its queue's topic (one topic per priority band); the share
groups the backend declares at startup run it in ``manage.py runshareconsumers``. See
docs/tasks.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.apps import apps
from django.core import checks
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string

from ..clients import build_client_factory
from ..clients.base import RecordProducer
from ..conf import get_settings
from ..routing import RouteRegistry, ShareGroup
from . import results
from .compat import (
    BaseTaskBackend,
    Task,
    TaskResult,
    TaskResultStatus,
    normalize_json,
    task_enqueued,
)
from .envelope import TaskEnvelope, to_millis
from .options import BackendOptions, QueueOptions, parse_options
from .routes import ensure_earliest

logger = logging.getLogger("django_sharegroups.tasks")

_producers: dict[tuple[str, str], RecordProducer] = {}
_producers_lock = threading.Lock()


def producer_for(client: str | None) -> RecordProducer:
    """The process-wide producer of a client adapter and cluster (backends are per thread)."""
    settings = get_settings()
    client = client or settings.client
    key = (client, repr(sorted(settings.kafka.items())))
    with _producers_lock:
        if key not in _producers:
            _producers[key] = build_client_factory(client, settings).producer()
        return _producers[key]


class ShareGroupsBackend(BaseTaskBackend):
    supports_defer = True
    supports_priority = True
    supports_async_task = True

    def __init__(self, alias: str, params: dict) -> None:
        super().__init__(alias, params)
        self.settings: BackendOptions = parse_options(alias, self.queues, self.options)

    @property
    def results_enabled(self) -> bool:
        """Results are stored when OPTIONS["results"] says so, else when the app is installed."""
        if self.settings.results is not None:
            return self.settings.results
        return apps.is_installed("django_sharegroups.tasks")

    @property
    def supports_get_result(self) -> bool:  # type: ignore[override]
        return self.results_enabled

    # -- enqueueing ----------------------------------------------------------------------------

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        args, kwargs = normalize_json(list(args)), normalize_json(dict(kwargs))
        now = timezone.now()
        envelope = TaskEnvelope(
            id=get_random_string(32),
            task=task.module_path,
            args=args,
            kwargs=kwargs,
            priority=task.priority,
            queue=task.queue_name,
            backend=self.alias,
            run_after=to_millis(task.run_after),
            enqueued_at=to_millis(now),
        )
        result = results.result_for(task, envelope, TaskResultStatus.READY)
        if self.results_enabled:
            results.create(envelope)  # in the caller's transaction, if any
        if self.settings.enqueue_on_commit:
            transaction.on_commit(partial(self._produce, envelope, result))
        else:
            self._produce(envelope, result)
        return result

    def _produce(self, envelope: TaskEnvelope, result: TaskResult) -> None:
        queue = self.settings.queues[envelope.queue]
        band = self.settings.band(envelope.priority)
        topic = queue.band_topic(band)
        try:
            ensure_earliest(queue.band_share_group(band), queue.client)
            producer_for(queue.client).produce(topic, envelope.to_bytes(), key=envelope.id.encode())
        except Exception as exc:
            if self.results_enabled:
                results.mark_unsent(envelope.id, exc)
            raise
        task_enqueued.send(type(self), task_result=result)

    # -- results ---------------------------------------------------------------------------

    def get_result(self, result_id: str) -> TaskResult:
        if not self.results_enabled:
            return super().get_result(result_id)
        return results.get(result_id)

    # -- routes ----------------------------------------------------------------------------

    def share_groups(self, registry: RouteRegistry) -> list[ShareGroup]:
        """Declare a share group per queue and priority band into ``registry``."""
        from ..routing import share_group, topic
        from .worker import TaskConsumer

        options = self.settings
        groups = []
        for queue in options.queues.values():
            for band in options.priority_bands:
                groups.append(
                    share_group(
                        queue.band_share_group(band),
                        priority=band,
                        concurrency=queue.concurrency,
                        workers_per_consumer=queue.workers_per_consumer,
                        client=queue.client,
                        kafka=queue.kafka,
                        registry=registry,
                        topics=[self._topic(queue, band, topic, TaskConsumer)],
                    )
                )
        return groups

    def _topic(self, queue: QueueOptions, band: str, topic, consumer):
        options = self.settings
        return topic(
            queue.band_topic(band),
            consumer=consumer.for_backend(self.alias),
            jobs_builder="per_batch" if queue.tasks_per_job > 1 else "per_message",
            max_messages_per_job=queue.tasks_per_job,
            # a task may wait in a delayed release for its run_after or its retry backoff
            max_release_delay=max(options.max_release_delay_ms, options.retry_backoff_max_ms),
            # the safety net: the worker dead-letters itself; one delivery may be a deferral
            dead_letter_queue={
                "topic": queue.dead_letter_topic,
                "max_retries": options.max_attempts + 1,
            },
        )

    def check(self, **kwargs: Any) -> Iterable[checks.CheckMessage]:
        if self.settings.results and not apps.is_installed("django_sharegroups.tasks"):
            yield checks.Error(
                f"TASKS[{self.alias!r}] stores results, but the results app is not installed.",
                hint="Add 'django_sharegroups.tasks' to INSTALLED_APPS (and migrate).",
                id="sharegroups_tasks.E001",
            )
