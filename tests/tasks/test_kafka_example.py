"""The example on Kafka, across processes: a view enqueues, a real ``manage.py
runshareconsumers`` (no declaration beyond TASKS) runs the task, the view shows the result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from django.test import Client, override_settings

from tests.services import kafka as kafka_service

from ..helpers import wait_for
from .kafka_settings import task_settings
from .scenarios import ROOT, database_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def topic(kafka_admin, postgres_database_url):
    base = kafka_service.unique_name("tasks-example")
    names = [kafka_service.create_topic(kafka_admin, 2, name=n) for n in (base, f"{base}.delay")]
    yield base
    for future in kafka_admin.delete_topics(names).values():
        future.exception(30)


def test_runshareconsumers_runs_a_task_enqueued_by_a_view(topic, kafka_bootstrap_servers):
    sharegroups = {"CLIENT": "confluent", "KAFKA": {"bootstrap.servers": kafka_bootstrap_servers}}
    with override_settings(TASKS=task_settings(topic), SHAREGROUPS=sharegroups):
        client = Client()
        task_id = client.post("/orders/42/receipt", {"email": "k@example.com"}).json()["task_id"]
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "runshareconsumers", "--group", topic],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "tests.tasks.kafka_settings",
                "TASKS_TOPIC": topic,
                "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap_servers,
                "DATABASE_URL": database_url(),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(
                lambda: client.get(f"/tasks/{task_id}").json()["status"] == "SUCCESSFUL",
                timeout=90,
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0, output
        body = client.get(f"/tasks/{task_id}").json()
    assert body["return_value"] == {"order_id": 42, "sent_to": "k@example.com"}
    assert body["attempts"] == 1
