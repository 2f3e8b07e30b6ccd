"""Fixtures of the task backend tests: a TASKS configuration and a worker running it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
from django.db.backends.signals import connection_created
from django.test import override_settings

from django_sharegroups.conf import ShareGroupsSettings
from django_sharegroups.instrumentation import events
from django_sharegroups.routing import RouteRegistry
from django_sharegroups.runtime.runner import ShareConsumerRunner
from django_sharegroups.tasks.compat import task_backends
from django_sharegroups.tasks.routes import declare_backend

from .jobs import RUNS

#: Short retries and deferrals, so the tests run in seconds.
FAST = {
    "max_attempts": 3,
    "retry_backoff_ms": 300,
    "retry_backoff_max_ms": 1_000,
    "max_release_delay_ms": 2_000,
    "results": True,
}


@contextlib.contextmanager
def task_backend(client: str, kafka: dict | None = None, **options) -> Iterator:
    """Settings with a ``ShareGroupsBackend`` as ``TASKS["default"]``; yields the backend."""
    tasks = {
        "default": {
            "BACKEND": "django_sharegroups.tasks.ShareGroupsBackend",
            "QUEUES": ["default"],
            "OPTIONS": {**FAST, **options},
        }
    }
    sharegroups = {"CLIENT": client, "KAFKA": dict(kafka or {}), "SHUTDOWN_TIMEOUT": 15}
    with override_settings(TASKS=tasks, SHAREGROUPS=sharegroups):
        yield task_backends["default"]


@contextlib.contextmanager
def running_worker(backend, client: str, kafka: dict | None = None) -> Iterator:
    """What ``runshareconsumers`` runs for the backend, in this process."""
    groups = declare_backend(backend, RouteRegistry())
    runner = ShareConsumerRunner(
        groups,
        settings=ShareGroupsSettings(client=client, kafka=dict(kafka or {}), poll_timeout=0.1),
    )
    runner.start()
    try:
        yield runner
    finally:
        exit_code = runner.shutdown()
        assert exit_code == 0, f"the worker stopped with exit code {exit_code}"


@pytest.fixture(autouse=True)
def _patient_sqlite() -> Iterator[None]:
    """SQLite lets one writer in at a time and gives up after 5 s; with eight threads enqueueing
    while the workers write results on a loaded machine that is not enough. Wait 60 s."""

    def busy_timeout(sender, connection, **kwargs) -> None:
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA busy_timeout = 60000")

    connection_created.connect(busy_timeout)
    yield
    connection_created.disconnect(busy_timeout)


@pytest.fixture(autouse=True)
def _fresh_runs() -> Iterator[None]:
    RUNS.clear()
    yield
    RUNS.clear()


@pytest.fixture
def dead_letters() -> Iterator[list[dict]]:
    """Payloads of the ``dlq.dispatched`` events published while the test runs."""
    seen: list[dict] = []
    lock = threading.Lock()

    def listen(event: str, payload: dict) -> None:
        with lock:
            seen.append(payload)

    events.subscribe("dlq.dispatched", listen)
    yield seen
    events.unsubscribe("dlq.dispatched", listen)
