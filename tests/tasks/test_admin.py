"""Task results in the admin: listed, filtered by status, shown read-only, never added."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_sharegroups.tasks.envelope import TaskEnvelope
from django_sharegroups.tasks.models import TaskResultRecord
from django_sharegroups.tasks.results import create

pytestmark = pytest.mark.django_db


def make(result_id: str, status: str, **changes) -> TaskResultRecord:
    create(
        TaskEnvelope(
            id=result_id,
            task="tests.tasks.jobs.record",
            args=[result_id],
            kwargs={},
            priority=-10,
            queue="default",
            backend="default",
            enqueued_at=1_800_000_000_000,
        )
    )
    TaskResultRecord.objects.filter(id=result_id).update(status=status, **changes)
    return TaskResultRecord.objects.get(id=result_id)


def test_results_are_listed_and_filtered_by_status(admin_client):
    make("ok-1", "SUCCESSFUL", worker_ids=["host-1-1"])
    make("dead-1", "FAILED", dead_lettered=True, worker_ids=["a", "b", "c"])
    url = reverse("admin:sharegroups_tasks_taskresultrecord_changelist")
    page = admin_client.get(url).content.decode()
    assert "ok-1" in page and "dead-1" in page
    failed = admin_client.get(url, {"status__exact": "FAILED"}).content.decode()
    assert "dead-1" in failed and "ok-1" not in failed
    assert admin_client.get(url, {"q": "ok-1"}).content.decode().count(">ok-1<") == 1


def test_a_result_is_shown_read_only_and_none_can_be_added(admin_client):
    row = make("shown", "FAILED", errors=[{"exception_class_path": "builtins.ValueError",
                                           "traceback": "Traceback: boom"}])  # fmt: skip
    change = reverse("admin:sharegroups_tasks_taskresultrecord_change", args=[row.pk])
    page = admin_client.get(change).content.decode()
    assert "Traceback: boom" in page and "tests.tasks.jobs.record" in page
    assert 'name="_save"' not in page
    add = reverse("admin:sharegroups_tasks_taskresultrecord_add")
    assert admin_client.get(add).status_code == 403
