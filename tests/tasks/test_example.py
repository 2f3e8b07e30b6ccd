"""The example project: a view enqueues a task, the worker runs it, a view shows its result."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from django_sharegroups.clients.memory import MemoryBroker, reset_default_broker
from django_sharegroups.tasks.compat import task_backends
from django_sharegroups.tasks.models import TaskResultRecord

from ..helpers import wait_for
from .conftest import running_worker, task_backend
from .jobs import record

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(SHAREGROUPS={"CLIENT": "memory"})
def test_a_view_enqueues_and_the_worker_runs_the_task(sharegroups_broker):
    backend = task_backends["default"]  # the example project's TASKS, on the memory broker
    client = Client()
    response = client.post("/orders/7/receipt", {"email": "ada@example.com"})
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    assert client.get(f"/tasks/{task_id}").json()["status"] == "READY"
    with running_worker(backend, "memory"):
        wait_for(lambda: client.get(f"/tasks/{task_id}").json()["status"] == "SUCCESSFUL")
    body = client.get(f"/tasks/{task_id}").json()
    assert body["return_value"] == {"order_id": 7, "sent_to": "ada@example.com"}
    assert body["attempts"] == 1
    assert client.get("/tasks/no-such-task").status_code == 404


def test_arguments_that_are_not_json_are_refused_before_anything_is_sent(sharegroups_broker):
    with task_backend("memory") as backend:
        with pytest.raises(TypeError):
            record.enqueue(object())
        assert backend.settings.queues["default"].topic not in sharegroups_broker.topics()
        assert not TaskResultRecord.objects.exists()


def test_a_task_the_broker_refuses_raises_and_its_result_says_so():
    reset_default_broker(MemoryBroker(config={"auto.create.topics.enable": False}))
    try:
        with task_backend("memory"):
            with pytest.raises(Exception, match="UNKNOWN_TOPIC_OR_PARTITION"):
                record.enqueue("nowhere")
            (row,) = TaskResultRecord.objects.all()
            assert row.status == "FAILED"
            assert "ProduceError" in row.errors[0]["exception_class_path"]
    finally:
        reset_default_broker()
