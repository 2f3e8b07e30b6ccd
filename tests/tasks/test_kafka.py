"""The task backend on Apache Kafka 4.4 (confluent and native adapters), results in PostgreSQL."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from tests.services import kafka as kafka_service

from . import scenarios
from .conftest import running_worker, task_backend

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def task_topics(kafka_admin, postgres_database_url) -> Iterator:
    """``task_topics(bands)``: fresh topics for a queue's bands, its DLQ and a delay topic;
    returns the backend OPTIONS that name them."""
    created: list[str] = []

    def make(bands=("normal",), partitions: int = 3) -> dict:
        base = kafka_service.unique_name("tasks")
        names = [base if band == "normal" else f"{base}.{band}" for band in bands]
        for name in [*names, f"{base}.dlq", f"{base}.delay"]:
            created.append(kafka_service.create_topic(kafka_admin, partitions, name=name))
        return {
            "queues": {"default": {"topic": base, "concurrency": 2}},
            "delay_topic": f"{base}.delay",
            "priority_bands": {band: (0 if band == "normal" else -100) for band in bands},
        }

    yield make
    for future in kafka_admin.delete_topics(created).values():
        future.exception(30)


@pytest.fixture
def kafka(kafka_bootstrap_servers) -> dict:
    return {"bootstrap.servers": kafka_bootstrap_servers}


@pytest.fixture(params=["confluent", "native"])
def client(request) -> str:
    """The client adapter: librdkafka (today's default with Kafka) and the native one."""
    return request.param


@pytest.fixture
def backend(task_topics, kafka, client):
    with task_backend(client, kafka, **task_topics()) as backend:
        yield backend


@pytest.fixture
def start_worker(backend, kafka, client):
    return functools.partial(running_worker, backend, client, kafka)


def test_thousand_tasks_from_threads_run_exactly_once(start_worker):
    scenarios.thousand_tasks_run_exactly_once(start_worker)


def test_failing_task_is_retried_with_backoff_then_dead_lettered(
    start_worker, dead_letters, backend
):
    scenarios.failing_task_is_retried_with_backoff_then_dead_lettered(
        start_worker, dead_letters, backend
    )


def test_run_after_is_honoured(start_worker, backend):
    scenarios.run_after_is_honoured(start_worker, backend)


def test_priorities_are_served_as_poll_frequency(task_topics, kafka, client):
    options = task_topics(bands=("normal", "background"))
    # librdkafka fills a poll with whole producer batches up to max.poll.records (500 unless
    # the queue says otherwise): each background consumer could take all its tasks in its first
    # poll, and the pause never came (CI, under load: background span 0.23 s, normal 0.26 s).
    # docs/tasks.md tells confluent users the same.
    options["queues"]["default"]["kafka"] = {"max.poll.records": 1}
    with task_backend(client, kafka, **options) as backend:
        scenarios.priorities_are_served_as_poll_frequency(
            functools.partial(running_worker, backend, client, kafka)
        )


def test_get_result_from_another_process(start_worker):
    scenarios.get_result_works_across_processes(start_worker)
