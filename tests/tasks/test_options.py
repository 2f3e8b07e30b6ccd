"""Backend options, bands, the task record format and the capability flags."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_sharegroups.exceptions import ConfigurationError
from django_sharegroups.routing import PRIORITY_POLL_INTERVALS_MS, RouteRegistry
from django_sharegroups.routing.checks import check_routes
from django_sharegroups.tasks.envelope import InvalidTaskRecord, TaskEnvelope
from django_sharegroups.tasks.options import parse_options
from django_sharegroups.tasks.routes import declare_task_queues

from .conftest import task_backend


def test_defaults_name_topics_and_groups_after_the_queue():
    options = parse_options("default", {"default", "emails"}, {})
    emails = options.queues["emails"]
    assert (emails.topic, emails.share_group, emails.dead_letter_topic) == (
        "tasks.emails",
        "tasks.emails",
        "tasks.emails.dlq",
    )
    assert emails.band_topic("normal") == "tasks.emails"
    assert emails.band_share_group("low") == "tasks.emails.low"


@pytest.mark.parametrize(
    ("priority", "band"),
    [(100, "high"), (1, "high"), (0, "normal"), (-1, "low"), (-50, "low"), (-51, "background")],
)
def test_priority_picks_the_band_with_the_highest_bound_not_above_it(priority, band):
    assert parse_options("default", {"default"}, {}).band(priority) == band


def test_retry_backoff_doubles_up_to_its_cap():
    options = parse_options("default", {"default"}, {"retry_backoff_max_ms": 5000})
    assert [options.retry_delay_ms(n) for n in (1, 2, 3, 4)] == [1000, 2000, 4000, 5000]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_atempts": 3}, "Unknown key(s) in TASKS['default']['OPTIONS']: max_atempts"),
        ({"queues": {"other": {}}}, "names other, which QUEUES does not list"),
        ({"queues": {"default": {"topc": "x"}}}, "['queues']['default']: topc"),
        ({"priority_bands": {"high": 1}}, "needs a 'normal' band"),
        ({"priority_bands": {"normal": 0, "urgent": 5}}, "urgent"),
        ({"max_attempts": 0}, "must be 1 or more"),
    ],
)
def test_bad_options_are_configuration_errors(options, message):
    with pytest.raises(ConfigurationError) as error:
        parse_options("default", {"default"}, options)
    assert message in str(error.value)


def test_a_task_record_must_be_a_task():
    with pytest.raises(InvalidTaskRecord, match="JSON object"):
        TaskEnvelope.from_payload([1, 2])
    with pytest.raises(InvalidTaskRecord, match="without task, args"):
        TaskEnvelope.from_payload({"id": "x", "kwargs": {}, "priority": 0})


def test_the_delivery_spent_waiting_for_run_after_is_not_a_run():
    envelope = TaskEnvelope(
        id="x", task="t", args=[], kwargs={}, priority=0, queue="q", backend="b", run_after=5000
    )
    assert envelope.attempt(1, record_timestamp_ms=1000) == 1
    assert envelope.attempt(2, record_timestamp_ms=1000) == 1  # delivery 1 was the wait
    assert envelope.attempt(2, record_timestamp_ms=6000) == 2  # came back from the delay topic
    undeferred = TaskEnvelope(
        id="x", task="t", args=[], kwargs={}, priority=0, queue="q", backend="b"
    )
    assert undeferred.attempt(3, record_timestamp_ms=1000) == 3


def test_capability_flags_are_truthful():
    with task_backend("memory", results=True) as backend:
        assert backend.supports_defer and backend.supports_priority
        assert backend.supports_get_result and backend.supports_async_task
    with task_backend("memory", results=False) as backend:
        assert not backend.supports_get_result
        with pytest.raises(NotImplementedError):
            backend.get_result("anything")


def test_settings_declare_a_share_group_per_queue_and_band_plus_the_delay_topic():
    routes = RouteRegistry()
    with task_backend("memory", priority_bands={"normal": 0, "background": -100}):
        groups = declare_task_queues(routes)
    assert [(g.name, g.poll_interval_ms) for g in groups] == [
        ("tasks.default", PRIORITY_POLL_INTERVALS_MS["normal"]),
        ("tasks.default.background", PRIORITY_POLL_INTERVALS_MS["background"]),
        ("tasks.delay", PRIORITY_POLL_INTERVALS_MS["background"]),
    ]
    assert {g.declared_in for g in groups} == {"settings.TASKS['default']"}
    assert check_routes(routes=routes) == []


def test_results_without_the_results_app_stop_startup(settings):
    apps = settings.INSTALLED_APPS
    settings.INSTALLED_APPS = [app for app in apps if app != "django_sharegroups.tasks"]
    with task_backend("memory", results=True), pytest.raises(ConfigurationError) as error:
        declare_task_queues(RouteRegistry())
    assert "Add 'django_sharegroups.tasks' to INSTALLED_APPS" in str(error.value)


def test_other_task_backends_declare_nothing():
    immediate = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with override_settings(TASKS=immediate):
        assert declare_task_queues(RouteRegistry()) == []
