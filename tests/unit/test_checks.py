"""System checks report each kind of broken route with its own id."""

import subprocess
import sys
from pathlib import Path

import pytest

from django_sharegroups import ShareGroupConsumer, share_group, topic
from django_sharegroups.routing import RouteRegistry
from django_sharegroups.routing.checks import check_routes

ROOT = Path(__file__).resolve().parents[2]


class Good(ShareGroupConsumer):
    def consume(self, messages):
        pass


class NotAConsumer:
    pass


def ids(routes):
    return sorted(error.id for error in check_routes(routes=routes))


@pytest.fixture
def routes():
    return RouteRegistry()


def test_valid_routes_pass(routes):
    share_group("ok", concurrency=3, topics=[topic("orders", consumer=Good)], registry=routes)
    share_group(
        "ok2",
        priority="background",
        topics=[
            topic(
                "a",
                consumer="tests.unit.test_checks.Good",
                jobs_builder="per_batch",
                max_messages_per_job=50,
            ),
            topic("b", consumer=Good, jobs_builder=lambda messages, size: [messages]),
        ],
        registry=routes,
    )
    assert ids(routes) == []


def test_unimportable_consumer_is_e001(routes):
    share_group("g", topics=[topic("t", consumer="nowhere.Missing")], registry=routes)
    assert ids(routes) == ["sharegroups.E001"]


def test_non_consumer_class_is_e002(routes):
    share_group("g", topics=[topic("t", consumer=NotAConsumer)], registry=routes)
    share_group("h", topics=[topic("t", consumer=print)], registry=routes)
    assert ids(routes) == ["sharegroups.E002", "sharegroups.E002"]


def test_duplicate_topic_is_e003(routes):
    share_group("g", topics=[topic("t", consumer=Good), topic("t", consumer=Good)], registry=routes)
    assert ids(routes) == ["sharegroups.E003"]


def test_duplicate_group_is_e004(routes):
    share_group("g", topics=[topic("t", consumer=Good)], registry=routes)
    share_group("g", topics=[topic("u", consumer=Good)], registry=routes)
    assert ids(routes) == ["sharegroups.E004"]


@pytest.mark.parametrize(
    "options",
    [
        {"concurrency": 0},
        {"concurrency": "4"},
        {"poll_interval": -1},
        {"priority": "urgent"},
        {"client": "kafka-python"},
        {"dead_letter_queue": "dlq.orders"},
        {"dead_letter_queue": {"topic": "dlq.orders", "max_retries": 3}},
        {"dead_letter_queue": {"copy_record": "yes"}},
    ],
)
def test_invalid_group_options_are_e005(routes, options):
    share_group("g", topics=[topic("t", consumer=Good)], registry=routes, **options)
    errors = check_routes(routes=routes)
    assert [e.id for e in errors] == ["sharegroups.E005"]
    assert next(iter(options)) in errors[0].msg


@pytest.mark.parametrize(
    "options",
    [
        {"jobs_builder": "per_moon"},
        {"max_messages_per_job": 0},
        {"jobs_builder": "per_message", "max_messages_per_job": 10},
        {"deserializer": "yaml"},
        {"key_deserializer": ["json"]},
        {"on_deserialization_error": "ignore"},
        {"max_mesages_per_job": 10},
    ],
)
def test_invalid_topic_options_are_e006(routes, options):
    share_group("g", topics=[topic("t", consumer=Good, **options)], registry=routes)
    errors = check_routes(routes=routes)
    assert [e.id for e in errors] == ["sharegroups.E006"]


def test_group_without_topics_is_e007(routes):
    share_group("g", topics=[], registry=routes)
    assert ids(routes) == ["sharegroups.E007"]


def test_bad_names_are_e008(routes):
    share_group("", topics=[topic("bad topic!", consumer=Good)], registry=routes)
    assert ids(routes) == ["sharegroups.E008", "sharegroups.E008"]


@pytest.mark.parametrize("name", [" padded", "x" * 256, "tab\there"])
def test_e008_says_what_a_valid_group_name_is(routes, name):
    share_group(name, topics=[topic("t", consumer=Good)], registry=routes)
    [error] = check_routes(routes=routes)
    assert error.id == "sharegroups.E008"
    assert "a share group name is a string of 1-255 characters" in error.msg


@pytest.mark.parametrize("name", [".", "..", "x" * 250, "a/b", ""])
def test_e008_applies_kafkas_topic_name_rule(routes, name):
    share_group("g", topics=[topic(name, consumer=Good)], registry=routes)
    [error] = check_routes(routes=routes)
    assert error.id == "sharegroups.E008" and "not '.' or '..'" in error.msg


def test_an_unknown_topic_option_is_named_as_such(routes):
    share_group("g", topics=[topic("t", consumer=Good, max_mesages_per_job=10)], registry=routes)
    [error] = check_routes(routes=routes)
    assert error.id == "sharegroups.E006"
    assert "there is no topic option 'max_mesages_per_job'" in error.msg
    assert "expected" not in error.msg


def test_every_mistake_is_reported_at_once(routes):
    share_group("g", concurrency=0, topics=[topic("t", consumer=NotAConsumer)], registry=routes)
    share_group("g", topics=[], registry=routes)
    assert ids(routes) == [
        "sharegroups.E002",
        "sharegroups.E004",
        "sharegroups.E005",
        "sharegroups.E007",
    ]


def test_manage_py_check_fails_on_broken_consumers_module():
    """A real ``manage.py check`` on a project whose app declares broken routes."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "tests.fixtures.broken_settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    for check_id in ("E001", "E002", "E003", "E004", "E005", "E006"):
        assert f"sharegroups.{check_id}" in result.stderr, result.stderr
    assert "tests.fixtures.broken_app.consumers" in result.stderr


def test_manage_py_check_passes_on_the_example_project():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "example_project.settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
